package vda5050

import "github.com/molen-io/molen/internal/uns"

// Decoder turns VDA 5050 messages into the points and events the input
// writes, without a broker: for replays and for testing what consumes an
// AGV's series (the fleet service, simfeed). It is used by one goroutine
// at a time.
type Decoder struct{ d *decoder }

// NewDecoder returns a Decoder for the vehicles and assets cfg selects;
// cfg is validated as for New (its broker is not contacted).
func NewDecoder(cfg *Config) (*Decoder, error) {
	cc, err := compile(cfg)
	if err != nil {
		return nil, err
	}
	d := newDecoder(cfg, cc)
	d.events = true
	return &Decoder{d: d}, nil
}

// Decode appends the points and events of the message on topic; now (unix
// ns) stamps a message without a timestamp. A message that does not decode
// is a *uns.RejectError and leaves pts and evs as they were.
func (d *Decoder) Decode(pts []uns.Point, evs []uns.Event, topic string, payload []byte, now int64) ([]uns.Point, []uns.Event, error) {
	return d.d.decode(pts, evs, topic, payload, now)
}
