// Package webuitest holds the test helpers the tests of both sets of pages
// (server/web and station) share: a headless Chromium and the helpers
// that drive one of its tabs, the checks of the two message catalogues,
// and the helpers of requests sent through httptest. It is imported only
// by _test files.
package webuitest
