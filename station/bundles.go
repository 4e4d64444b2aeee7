package station

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"villagesync/syncproto"
)

// maxPathLen bounds a file path typed in a form.
const maxPathLen = 1024

// bundlesData is the bundles page.
type bundlesData struct {
	Pending    int
	ExportPath string
	ImportPath string
	Exported   *exportResult
	Imported   *importResult
	DataDir    string
}

// exportResult is what an export wrote.
type exportResult struct {
	Path        string
	Changes     int
	First, Last uint64
	Bytes       int
}

// importResult is what an import took.
type importResult struct {
	Path    string
	Device  string
	Changes int // in the bundle
	New     int // not held before
}

// bundlesPage is GET /bundles: export this device's unsynced changes to a
// file (a USB stick), import another device's bundle to carry it.
func (u *UI) bundlesPage(r *request) error {
	return u.renderBundles(r, bundlesData{})
}

func (u *UI) renderBundles(r *request, data bundlesData) error {
	st, err := u.d.Status(r.ctx)
	if err != nil {
		return err
	}
	data.Pending = st.Pending
	data.DataDir = u.cfg.DataDir
	return u.render(r, "bundles", "bundles.title", "/bundles", data)
}

// checkPath checks a file path typed in a form: absolute, so that it does
// not depend on where the UI was started.
func checkPath(p string) (string, error) {
	switch {
	case p == "":
		return "", invalid("form.path_missing")
	case len(p) > maxPathLen:
		return "", invalid("form.too_long", msgArg("bundles.path"), maxPathLen)
	case !filepath.IsAbs(p):
		return "", invalid("form.path_relative", p)
	}
	return filepath.Clean(p), nil
}

// exportBundle is POST /bundles/export: the device's unsynced changes to a
// bundle file. They stay pending here until a receipt covers them.
func (u *UI) exportBundle(r *request) error {
	r.back = "/bundles"
	data := bundlesData{ExportPath: r.postValue("path")}
	page := func() error { return u.renderBundles(r, data) }
	path, err := checkPath(data.ExportPath)
	if err != nil {
		return u.again(r, err, page)
	}
	if err := checkOverwrite(path); err != nil {
		return u.again(r, err, page)
	}
	b, err := u.d.Export(r.ctx)
	if err != nil {
		return err
	}
	if b == nil {
		r.notice = &notice{Summary: r.lang.Msg("ok.nothing_to_export")}
		return page()
	}
	raw, err := syncproto.EncodeBundle(b)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(path, raw); err != nil {
		u.log.WarnContext(r.ctx, "export bundle failed", logErr, err)
		return u.again(r, invalid("form.write_failed", err.Error()), page)
	}
	u.log.InfoContext(r.ctx, "bundle exported", logCount, len(b.Changes))
	data.Exported = &exportResult{Path: path, Changes: len(b.Changes), First: b.Changes[0].Seq, Last: b.Changes[len(b.Changes)-1].Seq, Bytes: len(raw)}
	r.notice = &notice{Summary: r.lang.Msg("ok.exported")}
	return page()
}

// checkOverwrite refuses to replace a file that is not a bundle: a path
// typed wrong must not destroy a document.
func checkOverwrite(path string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return invalid("form.write_failed", err.Error())
	case !fi.Mode().IsRegular():
		return invalid("form.not_a_file", path)
	}
	old, err := readBundleFile(path)
	if err != nil || old == nil {
		return invalid("form.not_a_bundle", path)
	}
	return nil
}

// readBundleFile reads and decodes a bundle file, bounded in size.
func readBundleFile(path string) (*syncproto.Bundle, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	raw, err := io.ReadAll(io.LimitReader(f, syncproto.MaxBundleBytes+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > syncproto.MaxBundleBytes {
		return nil, syncproto.Errorf(syncproto.CodeTooLarge, "bundle file is over %d bytes", syncproto.MaxBundleBytes)
	}
	return syncproto.DecodeBundle(raw)
}

// writeFileAtomic writes data to path through a synced temporary file, so
// a pulled USB stick never holds half a bundle under the final name.
func writeFileAtomic(path string, data []byte) (err error) {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	// Make the rename itself durable; not every file system can sync a
	// directory, and the data is already safe under one name or the other.
	if dir, derr := os.Open(filepath.Dir(path)); derr == nil {
		_ = dir.Sync()
		_ = dir.Close()
	}
	return nil
}

// importBundle is POST /bundles/import: another device's bundle, kept to be
// carried to the server at this device's next sync.
func (u *UI) importBundle(r *request) error {
	r.back = "/bundles"
	data := bundlesData{ImportPath: r.postValue("path")}
	page := func() error { return u.renderBundles(r, data) }
	path, err := checkPath(data.ImportPath)
	if err != nil {
		return u.again(r, err, page)
	}
	b, err := readBundleFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return u.again(r, invalid("form.no_file", path), page)
	case err != nil:
		if _, ok := clientError(err); ok {
			return u.again(r, err, page)
		}
		return u.again(r, invalid("form.read_failed", err.Error()), page)
	case b.Device == u.d.ID():
		return u.again(r, invalid("form.own_bundle"), page)
	}
	n, err := u.d.Import(r.ctx, b)
	if err != nil {
		return u.again(r, err, page)
	}
	u.log.InfoContext(r.ctx, "bundle imported", logCount, n)
	data.Imported = &importResult{Path: path, Device: b.Device, Changes: len(b.Changes), New: n}
	r.notice = &notice{Summary: r.lang.Msg("ok.imported")}
	return page()
}
