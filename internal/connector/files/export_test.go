package files

import "time"

// SetClock makes settle times follow now.
func (in *Input) SetClock(now func() time.Time) { in.now = now }

// Scans is how many times the input listed the folder.
func (in *Input) Scans() int64 { return in.scans.Load() }

// SetHook makes the input run hook at the stages of a file.
func (in *Input) SetHook(hook func(stage, name string) error) { in.hook = hook }

// SetJournalKeep sets how many entries a compacted journal keeps, until
// the test ends.
func SetJournalKeep(t interface{ Cleanup(func()) }, n int) {
	old := journalKeep
	journalKeep = n
	t.Cleanup(func() { journalKeep = old })
}
