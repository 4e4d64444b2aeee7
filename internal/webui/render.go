package webui

import (
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"path"
)

// ParseTemplates parses one template per page name from fsys, with funcs:
// dir/layout.html, then dir/<s>.html for each shared name s, then
// dir/<name>.html.
func ParseTemplates(fsys fs.FS, dir string, funcs template.FuncMap, names []string, shared ...string) (map[string]*template.Template, error) {
	out := make(map[string]*template.Template, len(names))
	for _, name := range names {
		files := []string{path.Join(dir, "layout.html")}
		for _, s := range shared {
			files = append(files, path.Join(dir, s+".html"))
		}
		files = append(files, path.Join(dir, name+".html"))
		t, err := template.New(name).Funcs(funcs).ParseFS(fsys, files...)
		if err != nil {
			return nil, fmt.Errorf("parse template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// StaticFile is an embedded asset.
type StaticFile struct {
	ContentType string
	Body        []byte
}

// LoadStatic returns the files below dir in fsys by their base name, with
// base.css, the stylesheet both apps share, among them.
func LoadStatic(fsys fs.FS, dir string) (map[string]StaticFile, error) {
	out := map[string]StaticFile{"base.css": {ContentType: mime.TypeByExtension(".css"), Body: BaseCSS}}
	err := fs.WalkDir(fsys, dir, func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		out[path.Base(name)] = StaticFile{ContentType: mime.TypeByExtension(path.Ext(name)), Body: b}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load static files: %w", err)
	}
	return out, nil
}
