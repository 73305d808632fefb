// Package files is the edge's watched-folder input: testers and older
// machines drop CSV, JSON or JSON Lines files into a folder, and the input
// reads each complete file once, maps its rows onto UNS series, writes the
// points to the edge's durable log and only then moves the file to done/
// (or renames it with a suffix). It registers itself as the "files"
// connector kind.
//
// A file is complete when its size and modification time have not changed
// for the settle time; names ending in .tmp or .part, and hidden names, are
// never read, so a writer that renames a finished file into place is read
// at once. A file is parsed whole before any of its points are written, so
// a file that does not parse stores nothing: it is moved to failed/ with a
// .error note and counted. Points are then written in bounded batches.
//
// Each file is read once across restarts: after its points are written the
// input appends the file's SHA-256, name and modification time to a journal
// in the folder (.molen-files.journal) before it moves the file; a file
// found in the journal is moved without being read again. Between the
// write and the journal entry, the batches carry an identity
// (connector.Message: session = the folder, topic = the file name, payload
// = the file's digest and batch number), so an edge that restarted there
// recognises them and does not store them twice.
package files
