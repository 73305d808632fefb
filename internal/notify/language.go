package notify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/molen-io/molen/internal/audit"
	"github.com/molen-io/molen/internal/meta"
)

// Languages of messages.
const (
	English = "en"
	Dutch   = "nl"
)

// Settings are an organisation's settings of its notifications.
type Settings struct {
	// Locale is the organisation's locale, a BCP 47 tag ("nl-NL",
	// "en-GB"); "" is English.
	Locale string `json:"locale"`
	// Language is the language of its messages, "nl" or "en"; "" is the
	// locale's language (Dutch for nl-*, else English).
	Language string `json:"language"`
	// Effective is the language messages are written in: Language, else
	// the locale's.
	Effective string `json:"effective"`
}

var localeTag = regexp.MustCompile(`^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$`)

// effective is the language of messages the settings give.
func (st Settings) effective() string {
	if st.Language != "" {
		return st.Language
	}
	if lang, _, _ := strings.Cut(st.Locale, "-"); strings.EqualFold(lang, Dutch) {
		return Dutch
	}
	return English
}

// Settings returns org's settings (the defaults if it set none).
func (s *Service) Settings(ctx context.Context, org string) (Settings, error) {
	var st Settings
	err := s.db.QueryRowContext(ctx, `SELECT locale, language FROM notify_settings WHERE org = $1`, org).Scan(&st.Locale, &st.Language)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return Settings{}, fmt.Errorf("notification settings: %w", err)
	}
	st.Effective = st.effective()
	return st, nil
}

// PutSettings sets org's settings, recording e.
func (s *Service) PutSettings(ctx context.Context, org string, st Settings, e audit.Entry) (Settings, error) {
	if st.Locale != "" && (len(st.Locale) > 35 || !localeTag.MatchString(st.Locale)) {
		return Settings{}, fmt.Errorf("%w: locale %q: want a language tag like nl-NL or en-GB, or none", meta.ErrInvalid, st.Locale)
	}
	if st.Language != "" && st.Language != Dutch && st.Language != English {
		return Settings{}, fmt.Errorf("%w: language %q: want nl, en, or none (the locale's)", meta.ErrInvalid, st.Language)
	}
	e.Target, e.Detail = org, map[string]string{"locale": st.Locale, "language": st.Language}
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO notify_settings (org, locale, language) VALUES ($1, $2, $3)
			ON CONFLICT (org) DO UPDATE SET locale = excluded.locale, language = excluded.language`, org, st.Locale, st.Language); err != nil {
			return err
		}
		_, err := s.cfg.Audit.RecordTx(ctx, tx, e)
		return err
	})
	if err != nil {
		return Settings{}, fmt.Errorf("notification settings: %w", err)
	}
	return s.Settings(ctx, org)
}

// language is the language of org's messages; English if its settings
// cannot be read (a message in the wrong language beats none).
func (s *Service) language(ctx context.Context, org string) string {
	st, err := s.Settings(ctx, org)
	if err != nil {
		s.log.Warn("notification language unknown; writing English", "org", org, "err", err)
		return English
	}
	return st.Effective
}

// messages are the texts of messages by language; both have the same
// keys (TestCatalogues). Formats take their arguments in the order the
// English one names them.
var messages = map[string]map[string]string{
	English: {
		"alarm.title":      "%s on %s",
		"anomaly.title":    "Anomaly on %s",
		"down.title":       "%s down for more than %d min",
		"alarm.since":      "Alarm since %s (rule %q).",
		"anomaly.since":    "Anomaly since %s (rule %q).",
		"down.since":       "Downtime since %s (rule %q).",
		"escalation.title": "Not acknowledged: %s",
		"escalation.text":  "Nobody acknowledged this alarm within %d minutes.",
		"edge.offline":     "Edge %s offline for more than %d min",
		"edge.buffer":      "Edge %s has held data for more than %d min",
		"edge.input":       "Input %s of edge %s down for more than %d min",
		"edge.since":       "Since %s (rule %q): %s.",
		"oee.title":        "OEE of %s %s %% in the %s shift (target %d %%)",
		"oee.text":         "The OEE of %s was %s %% in the shift from %s to %s (%s), below the target of %d %% (rule %q).\nAvailability %s %%, performance %s %%, quality %s %%.",
		"test.title":       "Test message from molen",
		"test.text":        "This channel works: molen's notifications reach it.",
		"acknowledge":      "Acknowledge",
		"alarms":           "Alarms",
		"asset":            "Asset",
		"since":            "Since",
		// The acknowledgement page of a message's link.
		"ack.title":   "Acknowledge an alarm",
		"ack.invalid": "This link is not valid. Open the alarm in molen instead.",
		"ack.since":   "Since %s",
		"ack.already": "This alarm is acknowledged already.",
		"ack.done":    "Acknowledged. Thank you: nobody else will be asked about this alarm.",
		"ack.name":    "Your name (for the alarm's history)",
		"ack.note":    "Acknowledged by %s from a notification.",
		"ack.open":    "Open molen",
	},
	Dutch: {
		"alarm.title":      "%s op %s",
		"anomaly.title":    "Afwijking op %s",
		"down.title":       "%s langer dan %d min stil",
		"alarm.since":      "Alarm sinds %s (regel %q).",
		"anomaly.since":    "Afwijking sinds %s (regel %q).",
		"down.since":       "Stilstand sinds %s (regel %q).",
		"escalation.title": "Niet bevestigd: %s",
		"escalation.text":  "Niemand heeft dit alarm binnen %d minuten bevestigd.",
		"edge.offline":     "Edge %s langer dan %d min offline",
		"edge.buffer":      "Edge %s houdt al langer dan %d min data vast",
		"edge.input":       "Input %s van edge %s langer dan %d min niet verbonden",
		"edge.since":       "Sinds %s (regel %q): %s.",
		"oee.title":        "OEE van %s %s %% in de ploeg van %s (doel %d %%)",
		"oee.text":         "De OEE van %s was %s %% in de ploeg van %s tot %s (%s), onder het doel van %d %% (regel %q).\nBeschikbaarheid %s %%, prestatie %s %%, kwaliteit %s %%.",
		"test.title":       "Testbericht van molen",
		"test.text":        "Dit kanaal werkt: de meldingen van molen komen aan.",
		"acknowledge":      "Bevestigen",
		"alarms":           "Alarmen",
		"asset":            "Asset",
		"since":            "Sinds",
		"ack.title":        "Een alarm bevestigen",
		"ack.invalid":      "Deze link is niet geldig. Open het alarm in molen.",
		"ack.since":        "Sinds %s",
		"ack.already":      "Dit alarm is al bevestigd.",
		"ack.done":         "Bevestigd. Dank je: niemand anders krijgt nog een vraag over dit alarm.",
		"ack.name":         "Je naam (voor de geschiedenis van het alarm)",
		"ack.note":         "Bevestigd door %s via een melding.",
		"ack.open":         "molen openen",
	},
}

// tr writes the message key in lang (English if lang has none).
func tr(lang, key string, args ...any) string {
	f, ok := messages[lang][key]
	if !ok {
		f = messages[English][key]
	}
	return fmt.Sprintf(f, args...)
}

// decimal writes f with one decimal in lang's way (a comma in Dutch).
func decimal(lang string, f float64) string {
	s := fmt.Sprintf("%.1f", f)
	if lang == Dutch {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}
