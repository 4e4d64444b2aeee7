// Package web is the server's web pages: the dashboard that county staff,
// township supervisors and observers use in a browser after logging in with
// a password. It is server-rendered html/template with embedded CSS, no
// script, and works with no internet.
//
// # What it owns
//
//   - The page routes [Register] adds to the server's Echo instance: the
//     login form and logout, the county report (GET /), the review queue
//     and the county's resolutions (with a mandatory reason), enrollment
//     codes (issue, shown once as text and as a QR code; list; expire),
//     devices (list, revoke) and accounts (create, reset password, disable,
//     enable), and the embedded stylesheet under /static/. The long lists
//     (devices, enrollment codes, the review queue) have a GET filter form:
//     township, status and a free-text search.
//   - The browser's side of a session: the HttpOnly, SameSite=Strict
//     vs_session cookie that holds the session token, the CSRF token every
//     state-changing form carries (a double-submit cookie for the login form,
//     which has no session yet), the refusal of cross-origin POSTs
//     ([net/http.CrossOriginProtection]), and the security headers of every
//     page (a Content-Security-Policy without inline script or style,
//     nosniff, no referrer, no caching). Login attempts are limited by the
//     service's account lockout and by the HTTP adapter's per-address limit
//     ([Config.LoginLimit]), whose refusal is shown on the login form.
//   - The message catalogue: every string a person reads, in Simplified
//     Chinese (the default) and English, chosen with ?lang=zh|en and kept in
//     a cookie. Times are shown in China Standard Time.
//
// # What it must not do
//
// It makes no decisions about access: the principal always comes from the
// session the [Backend] returns, never from a form field, path or query, and
// the Backend (a *server.Service) checks every actor's authority. The page
// checks here only decide what to show and refuse early, and the filters of
// the lists only hide rows of what the Backend returned: a query parameter
// never widens a list. It logs no
// passwords, session tokens, CSRF tokens or enrollment codes.
package web
