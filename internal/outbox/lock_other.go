//go:build !unix

package outbox

import "os"

// lockDir is a no-op where flock is unavailable: the caller must make sure
// only one Log uses a directory.
func lockDir(*os.File) error { return nil }
