package sqlite

import "database/sql"

// Internals exposed to the external tests of this package only.

// WritePool returns the store's writer connection pool.
func WritePool(s *Store) *sql.DB { return s.write }

// ReadPool returns the store's read-only connection pool.
func ReadPool(s *Store) *sql.DB { return s.read }

// PullQueries are the pull queries by scope shape.
var PullQueries = map[string]string{
	"county":     pullAllSQL,
	"supervisor": pullTownshipSQL,
	"station":    pullVillageSQL,
}
