// Package webui is what the two sets of server-rendered pages share: the
// server's pages for people (server/web) and the laptop's pages for
// operators (station). It owns the pieces whose logic is the same in both:
//
//   - the language of a page ([Lang]): catalogue lookup with the methods
//     the templates call, and the choice of language from ?lang= and its
//     cookie ([ChooseLang]); each app keeps its own catalogue and passes it
//     in, and wraps Lang to add the names only it shows;
//   - times in China Standard Time ([Shanghai], [TimeLayout]);
//   - the security headers of every response ([SetSecurityHeaders]), each
//     app passing its own Content-Security-Policy;
//   - reading a form POST behind net/http's CrossOriginProtection
//     ([ReadForm]), the refusals that come of it ([Refusal]) and the
//     constant-time comparison of CSRF tokens ([EqualTokens]);
//   - loading the embedded templates and static files ([ParseTemplates],
//     [LoadStatic]) and the base stylesheet both apps serve at
//     /static/base.css ([BaseCSS]).
//
// # What it must not do
//
// It knows nothing of sessions, devices or routes, and decides nothing
// about access: who may see or post what stays with each app and the
// service or device behind it. It imports neither app. Package webuitest
// holds the test helpers both apps' tests share.
package webui
