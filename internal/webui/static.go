package webui

import _ "embed"

// BaseCSS is the stylesheet both apps serve at /static/base.css, linked
// before each app's own /static/style.css, which holds only its additions.
//
//go:embed static/base.css
var BaseCSS []byte
