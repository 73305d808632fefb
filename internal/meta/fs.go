package meta

import "io/fs"

// subFS is fs.Sub for a directory known to exist in an embedded FS.
func subFS(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err) // a directory of the binary's own embedded files
	}
	return sub
}

// Dir returns the files in dir of fsys, for Migrations.FS: a domain embeds
// its migrations/ directory and passes meta.Dir(files, "migrations").
func Dir(fsys fs.FS, dir string) fs.FS { return subFS(fsys, dir) }
