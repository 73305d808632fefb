// Package audit is the hub's audit log: who did what, when, from where, in
// which organisation. Entries are appended, never changed; each
// organisation's entries form a hash chain (every entry's hash covers the
// previous one's), so a changed, inserted or removed entry breaks the
// chain, and Verify (`molen audit verify`) finds where.
//
// Other domains record through Log.Record (or RecordTx inside their own
// transaction on the metadata database); an entry names people by their
// user ID, a pseudonym that outlives the erasure of their profile.
package audit
