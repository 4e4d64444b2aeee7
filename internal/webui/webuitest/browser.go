package webuitest

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chromium is where CI installs Debian's chromium.
const Chromium = "/usr/bin/chromium"

// RequireChromium is the environment variable that, set (in CI), makes a
// test fail rather than skip where Chromium is missing.
const RequireChromium = "VILLAGESYNC_REQUIRE_CHROMIUM"

// NewChromium starts a headless Chromium with a fresh profile and returns
// its context; it is stopped when the test ends. Without a browser the
// test is skipped, unless RequireChromium is set, when it fails.
func NewChromium(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(Chromium); err != nil {
		if os.Getenv(RequireChromium) != "" {
			t.Fatalf("no browser at %s (CI installs it: apt-get install chromium): %v", Chromium, err)
		}
		t.Skipf("no browser at %s: %v", Chromium, err)
	}
	// Generous, for a loaded 2-core machine; every wait ends sooner when
	// the page is right.
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(Chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithErrorf(t.Logf))
	// Cleanups run last-in first-out: the browser stops before its profile
	// directory is removed.
	t.Cleanup(func() {
		_ = chromedp.Cancel(browserCtx)
		cancelBrowser()
		cancelAlloc()
		cancel()
	})
	return browserCtx
}

// Page drives one browser tab for a test.
type Page struct {
	T   *testing.T
	Ctx context.Context // of the browser, from NewChromium
}

// Do runs actions and fails the test on the first error.
func (p *Page) Do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.T.Helper()
	if err := chromedp.Do(p.Ctx, actions...); err != nil {
		p.T.Fatalf("%s: %v", what, err)
	}
}

// Submit clicks a submit button or a link and waits for the page it leads
// to.
func (p *Page) Submit(what, sel string) {
	p.T.Helper()
	if _, err := chromedp.RunResponse(p.Ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		p.T.Fatalf("%s: %v", what, err)
	}
}

// Text returns the text of the element sel, once it is visible.
func (p *Page) Text(sel string) string {
	p.T.Helper()
	p.Do("wait for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
	s, err := chromedp.Run(p.Ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		p.T.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// WantText fails the test unless the text of sel contains want.
func (p *Page) WantText(sel, want string) {
	p.T.Helper()
	if got := p.Text(sel); !strings.Contains(got, want) {
		p.T.Errorf("%s: got %q, want it to contain %q", sel, got, want)
	}
}

// Value returns the value of the form field sel.
func (p *Page) Value(sel string) string {
	p.T.Helper()
	v, err := chromedp.Run(p.Ctx, chromedp.Value(chromedp.CSS(sel)))
	if err != nil {
		p.T.Fatalf("value of %s: %v", sel, err)
	}
	return v
}

// Eval evaluates a JavaScript expression in p's tab.
func Eval[T any](p *Page, expr string) T {
	p.T.Helper()
	v, err := chromedp.Run(p.Ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.T.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}
