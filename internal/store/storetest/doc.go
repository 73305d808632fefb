// Package storetest is the conformance suite for storage backends: every
// implementation of store.Store runs Run from its own tests, with an Opener
// that opens it on a directory:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, dir string) store.Store {
//			s, err := sqlite.Open(t.Context(), filepath.Join(dir, "hub.db"), sqlite.Options{})
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
//
// The suite pins down what the store interfaces leave to interpretation,
// so that backends agree:
//
//   - A limit of 0 or less means no limit.
//   - Ingest validates the whole call first and stores nothing of it if any
//     record is out of Seq order or any point has an invalid path (see
//     uns.ValidatePath), no kind, a non-finite float, an unknown quality or
//     a negative timestamp, or if org or the source's edge is empty; its
//     error wraps store.ErrInvalid, as does Aggregate's for a bad step or
//     aggregate.
//   - Storage is append-only and the watermark its only deduplication: two
//     points of one series with the same timestamp are both kept, whether
//     from one record, two records or two sources. Raw returns them in
//     ingest order; Latest returns the one ingested last; Aggregate counts
//     both, and First and Last pick the one ingested first and last.
//   - In Aggregate, Bucket.Count is the number of points the aggregate
//     considered: numeric ones (bools as 0/1, no strings) for avg, min, max
//     and sum; all of them for count, first and last. A bucket holding only
//     strings is omitted by the numeric aggregates.
//   - Aggregates at steps a minute or an hour divides agree with the same
//     aggregates computed from Raw (sums within 1e-12 relative), late
//     points included, and still answer over whole minutes and hours after
//     Expire removed the raw points (rollups kept by their own periods).
//   - Prefixes are literal: '%', '_', '*' and '?' are no wildcards.
//   - Events arrive in records and follow the watermark like points: a
//     record at or below it is skipped with its events. An event is
//     identified by org, asset (a trailing '/' dropped), kind, start and
//     the values of uns.EventKeyAttrs (absent counts as ""); the version
//     ingested last replaces End and Attrs, also within one call. Besides
//     uns.ValidateEvent, an attribute key or value that is not valid UTF-8
//     or holds a NUL byte refuses the call with store.ErrInvalid.
//   - An event covers [Start, End), an open one (End 0) [Start, ∞), and an
//     instant one (End == Start) the instant Start. Events returns those
//     that cover part of [From, To), newest Start first, then by asset and
//     kind; the order of events equal in all three is unspecified. Nil and
//     empty Attrs are the same.
//
// Stores are reopened on the same directory to check durability across
// Close; a backend without files maps dir to a database or schema name.
package storetest
