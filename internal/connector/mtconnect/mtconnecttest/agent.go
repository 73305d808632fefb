// Package mtconnecttest runs an MTConnect agent in-process, for tests and
// the simulated factory: it serves the current and sample requests of the
// MTConnect REST protocol (Part 1) with MTConnectStreams 1.3 documents
// (Part 3) from a bounded buffer of observations, and MTConnectError
// documents (OUT_OF_RANGE, NO_DEVICE, INVALID_REQUEST) as a real agent
// does. It is a test peer, not an agent to run in a plant: it has no
// adapters, no probe of its own beyond the device's data items, and no
// long-poll (interval) streaming.
package mtconnecttest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Category is a data item's category.
type Category string

// The categories.
const (
	Sample    Category = "SAMPLE"
	Event     Category = "EVENT"
	Condition Category = "CONDITION"
)

// The levels of a condition.
const (
	Normal      = "Normal"
	Warning     = "Warning"
	Fault       = "Fault"
	Unavailable = "Unavailable"
)

// DataItem is one data item of the agent's device.
type DataItem struct {
	ID        string
	Name      string
	Category  Category
	Type      string // the element: Temperature, Execution, PartCount, … (and a condition's type)
	Component string // the component it belongs to, e.g. "spindle"; default "device"
}

// Agent is an in-process MTConnect agent of one device.
type Agent struct {
	device, uuid string
	items        []DataItem
	bufferSize   int

	mu       sync.Mutex // guards everything below
	instance uint64
	seq      uint64        // the next sequence
	buf      []observation // the last bufferSize observations, oldest first
	latest   map[string]observation
	active   map[string][]observation // active conditions (Warning, Fault) of each item
	garble   int                      // answers left to garble
	now      func() time.Time
	addr     string
	srv      *http.Server
	served   chan struct{} // closed when srv's Serve returned
}

type observation struct {
	item  *DataItem
	seq   uint64
	ts    time.Time
	value string // a condition's message
	level string // a condition's level
	code  string // a condition's nativeCode
}

// NewAgent returns an agent of device (its name; uuid is derived from it)
// holding items, each UNAVAILABLE, with a buffer of bufferSize
// observations. It does not listen until Start or Listen.
func NewAgent(device string, bufferSize int, items ...DataItem) *Agent {
	a := &Agent{device: device, uuid: device + "-uuid", bufferSize: bufferSize, now: time.Now}
	for _, it := range items {
		if it.Component == "" {
			it.Component = "device"
		}
		a.items = append(a.items, it)
	}
	a.reset(1)
	return a
}

// reset empties the buffer and starts instance at sequence 1, every data
// item UNAVAILABLE, as an agent does when it starts.
func (a *Agent) reset(instance uint64) {
	a.instance, a.seq = instance, 1
	a.buf, a.latest, a.active = nil, map[string]observation{}, map[string][]observation{}
	for i := range a.items {
		o := observation{item: &a.items[i], value: "UNAVAILABLE"}
		if a.items[i].Category == Condition {
			o.value, o.level = "", Unavailable
		}
		a.add(o)
	}
}

// add gives o the next sequence (and the time, unless it has one), and
// buffers it.
func (a *Agent) add(o observation) {
	o.seq = a.seq
	if o.ts.IsZero() {
		o.ts = a.now()
	}
	o.ts = o.ts.UTC()
	a.seq++
	a.buf = append(a.buf, o)
	if len(a.buf) > a.bufferSize {
		a.buf = a.buf[len(a.buf)-a.bufferSize:]
	}
	a.latest[o.item.ID] = o
}

func (a *Agent) item(id string) *DataItem {
	for i := range a.items {
		if a.items[i].ID == id {
			return &a.items[i]
		}
	}
	panic("mtconnecttest: no data item " + id)
}

// Set records a new value of a sample or event ("UNAVAILABLE" included).
func (a *Agent) Set(id, value string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.add(observation{item: a.item(id), value: value})
}

// Value is a value of one data item, for Update.
type Value struct{ ID, Value string }

// Update records values at one time, in their order, as an adapter's line
// of several data items does.
func (a *Agent) Update(ts time.Time, values ...Value) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, v := range values {
		a.add(observation{item: a.item(v.ID), value: v.Value, ts: ts})
	}
}

// SetCondition records a condition: level Warning or Fault activates
// nativeCode, Normal clears it (all of them without a code), Unavailable
// clears all.
func (a *Agent) SetCondition(id, level, nativeCode, message string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	it := a.item(id)
	o := observation{item: it, level: level, code: nativeCode, value: message}
	a.add(o)
	o = a.latest[id]
	var act []observation
	for _, c := range a.active[id] {
		clearsAll := level == Unavailable || level == Normal && nativeCode == ""
		if !clearsAll && c.code != nativeCode { // the same code is replaced or cleared
			act = append(act, c)
		}
	}
	if level == Warning || level == Fault {
		act = append(act, o)
	}
	a.active[id] = act
}

// Garble makes the next n answers malformed XML.
func (a *Agent) Garble(n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.garble += n
}

// Restart starts the agent over as a new instance: sequence 1, every data
// item UNAVAILABLE.
func (a *Agent) Restart() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reset(a.instance + 1)
}

// Sequences returns the agent's first sequence in its buffer and the next
// sequence it will give.
func (a *Agent) Sequences() (first, next uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.buf[0].seq, a.seq
}

// Listen starts serving on addr (host:port; port 0 picks one) and returns
// the address it listens on.
func (a *Agent) Listen(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: a, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan struct{})
	a.mu.Lock()
	a.addr, a.srv, a.served = ln.Addr().String(), srv, served
	a.mu.Unlock()
	go func() {
		defer close(served)
		_ = srv.Serve(ln) // ErrServerClosed once stopped
	}()
	return ln.Addr().String(), nil
}

// URL returns the agent's base URL.
func (a *Agent) URL() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return "http://" + a.addr
}

// Device returns the device's name.
func (a *Agent) Device() string { return a.device }

// Stop stops listening and drops every connection, as an agent that is
// switched off; its buffer stays.
func (a *Agent) Stop() error {
	a.mu.Lock()
	srv, served := a.srv, a.served
	a.srv = nil
	a.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Close()
	<-served
	return err
}

// Start listens again on the address of the last Listen.
func (a *Agent) Start() error {
	a.mu.Lock()
	addr := a.addr
	a.mu.Unlock()
	_, err := a.Listen(addr)
	return err
}

// Serve runs the agent on addr until ctx ends, for the simulated factory;
// it returns the address once listening.
func (a *Agent) Serve(ctx context.Context, addr string) (string, error) {
	got, err := a.Listen(addr)
	if err != nil {
		return "", err
	}
	go func() {
		<-ctx.Done()
		_ = a.Stop()
	}()
	return got, nil
}

// ServeHTTP answers /current, /sample, /probe and the same under
// /<device>/.
func (a *Agent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	w.Header().Set("Content-Type", "application/xml")
	if a.garble > 0 {
		a.garble--
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><MTConnectStreams><Header instanceId="1" nextSequence=`)
		return
	}
	path := strings.Trim(r.URL.Path, "/")
	if dev, rest, ok := strings.Cut(path, "/"); ok {
		if dev != a.device && dev != a.uuid {
			a.error(w, http.StatusNotFound, "NO_DEVICE", fmt.Sprintf("Could not find the device '%s'", dev))
			return
		}
		path = rest
	}
	switch path {
	case "current":
		a.current(w)
	case "sample":
		a.sample(w, r)
	case "probe":
		a.probe(w)
	default:
		a.error(w, http.StatusBadRequest, "INVALID_REQUEST", "unsupported request "+r.URL.Path)
	}
}

const streamsOpen = `<?xml version="1.0" encoding="UTF-8"?>
<MTConnectStreams xmlns:m="urn:mtconnect.org:MTConnectStreams:1.3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns="urn:mtconnect.org:MTConnectStreams:1.3" xsi:schemaLocation="urn:mtconnect.org:MTConnectStreams:1.3 http://schemas.mtconnect.org/schemas/MTConnectStreams_1.3.xsd">
`

func (a *Agent) header(b *strings.Builder, next uint64) {
	fmt.Fprintf(b, `  <Header creationTime="%s" sender="molen-test-agent" instanceId="%d" version="1.3.0.18" bufferSize="%d" nextSequence="%d" firstSequence="%d" lastSequence="%d"/>`+"\n",
		a.now().UTC().Format("2006-01-02T15:04:05Z"), a.instance, a.bufferSize, next, a.buf[0].seq, a.seq-1)
}

func (a *Agent) current(w http.ResponseWriter) {
	var obs []observation
	for i := range a.items {
		id := a.items[i].ID
		if act := a.active[id]; len(act) > 0 {
			obs = append(obs, act...)
		} else {
			obs = append(obs, a.latest[id])
		}
	}
	a.streams(w, a.seq, obs)
}

func (a *Agent) sample(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	first := a.buf[0].seq
	from, count := first, uint64(100)
	var err error
	if s := q.Get("from"); s != "" {
		if from, err = strconv.ParseUint(s, 10, 64); err != nil {
			a.error(w, http.StatusBadRequest, "INVALID_REQUEST", "'from' must be a positive integer")
			return
		}
	}
	if s := q.Get("count"); s != "" {
		if count, err = strconv.ParseUint(s, 10, 64); err != nil || count == 0 {
			a.error(w, http.StatusBadRequest, "INVALID_REQUEST", "'count' must be a positive integer")
			return
		}
	}
	if from < first || from > a.seq {
		a.error(w, http.StatusBadRequest, "OUT_OF_RANGE",
			fmt.Sprintf("'from' must be greater than or equal to %d and less than or equal to %d.", first, a.seq))
		return
	}
	var obs []observation
	next := a.seq
	for _, o := range a.buf[from-first:] {
		if uint64(len(obs)) == count {
			next = o.seq
			break
		}
		obs = append(obs, o)
	}
	a.streams(w, next, obs)
}

// streams writes an MTConnectStreams document of obs, grouped by component
// and category as agents do.
func (a *Agent) streams(w http.ResponseWriter, next uint64, obs []observation) {
	var b strings.Builder
	b.WriteString(streamsOpen)
	a.header(&b, next)
	fmt.Fprintf(&b, "  <Streams>\n    <DeviceStream name=\"%s\" uuid=\"%s\">\n", esc(a.device), esc(a.uuid))
	var components []string
	for _, it := range a.items {
		if !slices.Contains(components, it.Component) {
			components = append(components, it.Component)
		}
	}
	for _, comp := range components {
		var parts [3]strings.Builder
		for _, o := range obs {
			if o.item.Component != comp {
				continue
			}
			switch o.item.Category {
			case Sample:
				element(&parts[0], o.item.Type, o)
			case Event:
				element(&parts[1], o.item.Type, o)
			default:
				element(&parts[2], o.level, o)
			}
		}
		if parts[0].Len()+parts[1].Len()+parts[2].Len() == 0 {
			continue
		}
		fmt.Fprintf(&b, "      <ComponentStream component=\"%s\" name=\"%s\" componentId=\"%s\">\n", componentType(comp), esc(comp), esc(comp))
		for i, tag := range [...]string{"Samples", "Events", "Condition"} {
			if parts[i].Len() > 0 {
				fmt.Fprintf(&b, "        <%s>\n%s        </%s>\n", tag, parts[i].String(), tag)
			}
		}
		b.WriteString("      </ComponentStream>\n")
	}
	b.WriteString("    </DeviceStream>\n  </Streams>\n</MTConnectStreams>\n")
	fmt.Fprint(w, b.String())
}

func element(b *strings.Builder, name string, o observation) {
	fmt.Fprintf(b, `          <%s dataItemId="%s" timestamp="%s" sequence="%d"`, name, esc(o.item.ID), o.ts.Format("2006-01-02T15:04:05.000000Z"), o.seq)
	if o.item.Name != "" {
		fmt.Fprintf(b, ` name="%s"`, esc(o.item.Name))
	}
	if o.item.Category == Condition {
		fmt.Fprintf(b, ` type="%s"`, esc(o.item.Type))
		if o.code != "" {
			fmt.Fprintf(b, ` nativeCode="%s"`, esc(o.code))
		}
	}
	if o.value == "" {
		b.WriteString("/>\n")
		return
	}
	fmt.Fprintf(b, ">%s</%s>\n", esc(o.value), name)
}

func (a *Agent) probe(w http.ResponseWriter) {
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>
<MTConnectDevices xmlns="urn:mtconnect.org:MTConnectDevices:1.3">
  <Header creationTime="%s" sender="molen-test-agent" instanceId="%d" version="1.3.0.18" bufferSize="%d" assetBufferSize="0" assetCount="0"/>
  <Devices>
    <Device id="%s" name="%s" uuid="%s">
      <DataItems>
`, a.now().UTC().Format("2006-01-02T15:04:05Z"), a.instance, a.bufferSize, esc(a.device), esc(a.device), esc(a.uuid))
	for _, it := range a.items {
		fmt.Fprintf(&b, "        <DataItem id=\"%s\" name=\"%s\" category=\"%s\" type=\"%s\"/>\n", esc(it.ID), esc(it.Name), it.Category, upperSnake(it.Type))
	}
	b.WriteString("      </DataItems>\n    </Device>\n  </Devices>\n</MTConnectDevices>\n")
	fmt.Fprint(w, b.String())
}

func (a *Agent) error(w http.ResponseWriter, status int, code, msg string) {
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<MTConnectError xmlns="urn:mtconnect.org:MTConnectError:1.3">
  <Header creationTime="%s" sender="molen-test-agent" instanceId="%d" version="1.3.0.18" bufferSize="%d"/>
  <Errors>
    <Error errorCode="%s">%s</Error>
  </Errors>
</MTConnectError>
`, a.now().UTC().Format("2006-01-02T15:04:05Z"), a.instance, a.bufferSize, code, esc(msg))
}

var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;")

// esc escapes s for XML text and attribute values.
func esc(s string) string { return escaper.Replace(s) }

// componentType names a component's element as agents do (Device, Spindle…).
func componentType(name string) string {
	if name == "" {
		return "Device"
	}
	return strings.ToUpper(name[:1]) + name[1:]
}

// upperSnake turns an element name (PartCount) into its data item type
// (PART_COUNT).
func upperSnake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}
