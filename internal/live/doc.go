// Package live is the hub's fan-out of new data to browsers: after ingest
// commits a batch, the hub publishes its points and events here, and every
// open live stream (GET /api/v1/live, Server-Sent Events) of the batch's
// organisation sends what lies under its prefix.
//
// Each organisation has a bounded ring of recent messages, each with a
// cursor. Publishing appends to the ring and wakes the streams by closing
// one channel: it never waits for a stream, and costs the same however
// many streams are open. A stream reads the ring from its cursor; one that
// fell behind the ring (a slow client, or a reconnect with an old
// Last-Event-ID) gets an "event: reset" and continues from the newest
// message, and the client fetches what it missed through the query API.
package live
