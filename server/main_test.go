package server_test

import (
	"os"
	"testing"

	"villagesync/server/httpapi/httptestutil"
)

func TestMain(m *testing.M) { os.Exit(httptestutil.RunTests(m)) }
