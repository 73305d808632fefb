// Package quota keeps each organisation's storage quota: how many series
// it may have and how many points it may store per UTC day. A platform
// admin sets them per organisation; organisations without their own get
// the hub's default. The hub's ingest asks Admit before it stores a batch:
// points of a series beyond the series quota, and points beyond the day's
// quota, are taken out of the batch and counted by organisation and
// reason, the rest is stored, and the edge is told how many were refused
// and why (it does not send them again).
package quota
