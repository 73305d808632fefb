package output_test

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/molen-io/molen/internal/connector/mqtt/mqtttest"
	"github.com/molen-io/molen/internal/uns"
)

// subscriber collects the UNS points published under prefix.
type subscriber struct {
	mu   sync.Mutex
	got  map[string]uns.Point // by series and time
	errs []string
}

func subscribe(t *testing.T, url, clientID, prefix string, clean bool) *subscriber {
	t.Helper()
	sub := &subscriber{got: map[string]uns.Point{}}
	opts := paho.NewClientOptions().AddBroker(url).SetClientID(clientID).SetCleanSession(clean).
		SetAutoReconnect(true).SetMaxReconnectInterval(200 * time.Millisecond).SetConnectRetry(true)
	opts.SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { sub.add(prefix, m) })
	opts.SetOnConnectHandler(func(c paho.Client) {
		c.Subscribe(prefix+"#", 1, nil)
	})
	cl := paho.NewClient(opts)
	if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber: connect %s: %v", url, tok.Error())
	}
	// The subscription is made on connect; one more, waited for, tells
	// when it is in place.
	if tok := cl.Subscribe(prefix+"#", 1, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	t.Cleanup(func() { cl.Disconnect(100) })
	return sub
}

func (s *subscriber) add(prefix string, m paho.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	topic := strings.TrimPrefix(m.Topic(), prefix)
	pts, err := uns.Decode(nil, topic, m.Payload(), 0)
	if err != nil {
		s.errs = append(s.errs, fmt.Sprintf("%s: %v", m.Topic(), err))
		return
	}
	for _, p := range pts {
		s.got[fmt.Sprint(p.Series, p.TS)] = p
	}
}

func (s *subscriber) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

func mosquitto(t *testing.T) string {
	t.Helper()
	addr := os.Getenv("MOLEN_TEST_MQTT")
	if addr == "" {
		t.Skip("MOLEN_TEST_MQTT is not set (host:port of a Mosquitto broker, e.g. 127.0.0.1:1883)")
	}
	return "tcp://" + addr
}

// TestMQTTRepublish republishes points to Mosquitto as a UNS: a subscriber
// reads back the same points, values, times and qualities, and a client
// that subscribes later gets the retained latest values.
func TestMQTTRepublish(t *testing.T) {
	for _, version := range []int{3, 5} {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			url := mosquitto(t)
			run := unique()
			prefix := "molen-test/" + run + "/"
			sub := subscribe(t, url, "molen-sub-"+run, prefix, true)
			s := startSet(t, fmt.Sprintf("outputs:\n  - mqtt: {url: %s, topic_prefix: %q, retain: true, version: %d, client_id: molen-out-%s}\n", url, prefix, version, run))
			want := samplePoints("plant")
			feed(t, s, want[:2]...)
			feed(t, s, want[2:]...)
			waitFor(t, "the points at the subscriber", func() bool { return sub.count() >= len(want) })
			sub.mu.Lock()
			for _, w := range want {
				if got := sub.got[fmt.Sprint(w.Series, w.TS)]; got != w {
					t.Errorf("got %+v, want %+v", got, w)
				}
			}
			if len(sub.errs) > 0 {
				t.Errorf("payloads that do not decode: %v", sub.errs)
			}
			sub.mu.Unlock()
			waitFor(t, "the status to count them", func() bool {
				st := status(s, "mqtt")
				return st.Sent == int64(len(want)) && st.Pending == 0
			})
			if st := status(s, "mqtt"); st.State != "ok" || st.Dropped != 0 || st.Pending != 0 || st.Target != url {
				t.Errorf("status %+v", st)
			}
			late := subscribe(t, url, "molen-late-"+run, prefix, true)
			waitFor(t, "the retained values", func() bool { return late.count() >= len(want) })
			// Clear the retained messages this run left on a shared broker.
			cl := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("molen-clear-" + run))
			if tok := cl.Connect(); tok.WaitTimeout(10*time.Second) && tok.Error() == nil {
				for _, w := range want {
					cl.Publish(prefix+w.Series, 1, true, []byte{}).WaitTimeout(10 * time.Second)
				}
				cl.Disconnect(100)
			}
		})
	}
}

// TestMQTTBrokerOutage stops the output's broker while data keeps coming:
// the output buffers within its bound, drops the oldest beyond it and counts
// them, and resumes when the broker is back. Every point is either received
// or counted as dropped.
func TestMQTTBrokerOutage(t *testing.T) {
	// The broker queues every message for the subscriber (by default it
	// keeps 1000 and drops the rest) so that what it receives is what the
	// output sent.
	broker := mqtttest.StartMosquittoWith(t, "max_queued_messages 0\n")
	run := unique()
	prefix := "plant/"
	sub := subscribe(t, broker.URL(), "molen-sub-"+run, prefix, false)
	s := startSet(t, fmt.Sprintf("outputs:\n  - mqtt: {url: %s, topic_prefix: %q, backoff_min: 50ms, backoff_max: 200ms, max_bytes: 1048576}\n", broker.URL(), prefix))

	ts := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC).UnixNano()
	total := 0
	batch := func(n int) {
		pts := make([]uns.Point, n)
		for i := range pts {
			pts[i] = uns.Point{Series: fmt.Sprintf("hall1/line%d/speed", i%50), TS: ts + int64(total+i)*1e6, Value: uns.Float(float64(total + i))}
		}
		total += n
		feed(t, s, pts...)
	}
	batch(100)
	waitFor(t, "the first points", func() bool { return sub.count() == 100 })

	broker.Stop()
	batch(10)
	waitFor(t, "the output to notice the broker is gone", func() bool { return status(s, "mqtt").State == "retrying" })
	// Past the 1 MiB bound: the oldest are dropped and counted.
	for i := 0; status(s, "mqtt").Dropped == 0; i++ {
		if i == 1000 {
			t.Fatalf("1000 batches and nothing dropped: %+v", status(s, "mqtt"))
		}
		batch(1000)
	}
	st := status(s, "mqtt")
	if st.Dropped == 0 || st.Pending == 0 || st.Retried == 0 || st.LagSeconds <= 0 {
		t.Fatalf("during the outage: %+v; want points pending, some dropped, retries and a lag", st)
	}
	broker.Start()
	waitFor(t, "every point received or dropped", func() bool {
		st := status(s, "mqtt")
		return st.Pending == 0 && int64(sub.count())+st.Dropped >= int64(total)
	})
	st = status(s, "mqtt")
	if got := int64(sub.count()) + st.Dropped; got != int64(total) {
		t.Errorf("received %d + dropped %d = %d, want %d", sub.count(), st.Dropped, got, total)
	}
	if st.State != "ok" {
		t.Errorf("after the outage: %+v", st)
	}
	t.Logf("total %d, received %d, dropped %d, retries %d", total, sub.count(), st.Dropped, st.Retried)
}
