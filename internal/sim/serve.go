package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/molen-io/molen/internal/connector/modbus/modbustest"
	"github.com/molen-io/molen/internal/connector/mtconnect/mtconnecttest"
	"github.com/molen-io/molen/internal/connector/s7/s7test"
	"github.com/molen-io/molen/internal/connector/sparkplug/sparkplugtest"
	"github.com/molen-io/molen/internal/connector/vda5050/vda5050test"
	"github.com/molen-io/molen/internal/uns"
)

// The machines that Serve can take over from MQTT, and what it adds.
const (
	ModbusMachine    = "packaging"       // served over Modbus TCP
	MTConnectMachine = "cnc-mill"        // served by an MTConnect agent
	S7Machine        = "injection-press" // served by a Siemens S7 PLC
	OPCUAMachine     = "compressor"      // served over OPC UA
	SparkplugMachine = "robot-cell"      // published as a Sparkplug B device
)

// Sparkplug B and VDA 5050 names of the simulated devices. The Sparkplug
// group is the site.
const (
	SparkplugNode   = "line-1-gateway" // edge node id; the robot cell is its device
	AGVManufacturer = "molen"
	AGVSerial       = "agv-1"
)

// ServeConfig configures a Server: which simulated machines speak which
// industrial protocol. An empty address leaves that protocol off.
// Addresses are host:port; port 0 picks a free port (Server.Addrs tells
// which).
type ServeConfig struct {
	Seed int64   // seed of the models, as Config.Seed
	Rate float64 // ticks per second; default DefaultRate
	Site string  // default DefaultSite
	// Modbus serves the packaging machine's registers over Modbus TCP.
	Modbus string
	// MTConnect serves the cnc mill from an MTConnect agent (HTTP).
	MTConnect string
	// S7 serves the injection press's values in a data block of a
	// simulated Siemens S7 PLC (S7comm over ISO-on-TCP).
	S7 string
	// OPCUA serves the compressor's variables over OPC UA (security None,
	// anonymous).
	OPCUA string
	// Sparkplug runs an MQTT broker at this address on which the robot
	// cell is published as a Sparkplug B device.
	Sparkplug string
	// VDA5050 runs an MQTT broker at this address on which an AGV
	// publishes VDA 5050 v2. The same address as Sparkplug shares one
	// broker.
	VDA5050 string
	// Drop is a folder into which a leak tester writes its results as
	// CSV files (LeakTester, DropRows parts a file).
	Drop string
	Log  *slog.Logger
}

func (c ServeConfig) withDefaults() ServeConfig {
	if c.Rate == 0 {
		c.Rate = DefaultRate
	}
	if c.Site == "" {
		c.Site = DefaultSite
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate checks c after defaults are applied; the error names every bad field.
func (c ServeConfig) Validate() error {
	var errs []error
	if !(c.Rate > 0 && c.Rate <= MaxRate) {
		errs = append(errs, fmt.Errorf("rate: must be in (0, %d] ticks per second, got %v", MaxRate, c.Rate))
	}
	if err := uns.ValidatePath(c.Site + "/x"); err != nil || strings.Contains(c.Site, "/") {
		errs = append(errs, fmt.Errorf("site: %q is not one UNS path segment (A-Z a-z 0-9 _ - .)", c.Site))
	}
	for _, f := range [...]struct{ name, addr string }{
		{"modbus", c.Modbus}, {"mtconnect", c.MTConnect}, {"s7", c.S7}, {"opcua", c.OPCUA}, {"sparkplug", c.Sparkplug}, {"vda5050", c.VDA5050},
	} {
		if f.addr == "" {
			continue
		}
		if _, port, err := net.SplitHostPort(f.addr); err != nil || port == "" {
			errs = append(errs, fmt.Errorf("%s: %q is not host:port", f.name, f.addr))
		}
	}
	return errors.Join(errs...)
}

// MQTTMachines returns the names of the line's machines that c leaves to
// plain MQTT (a Sim's Config.Machines), so that every machine reaches the
// edge over exactly one protocol.
func (c ServeConfig) MQTTMachines() []string {
	var out []string
	for _, k := range kinds {
		if k.name == ModbusMachine && c.Modbus != "" || k.name == OPCUAMachine && c.OPCUA != "" ||
			k.name == MTConnectMachine && c.MTConnect != "" || k.name == S7Machine && c.S7 != "" {
			continue
		}
		out = append(out, k.name)
	}
	return out
}

// Addrs are the addresses a Server listens on; empty for a protocol that is
// off. Sparkplug and VDA5050 are MQTT brokers (tcp); MTConnect is an
// agent (http); S7 a PLC (ISO-on-TCP).
type Addrs struct {
	Modbus, MTConnect, S7, OPCUA, Sparkplug, VDA5050 string
}

// Server serves simulated machines over industrial protocols, the way real
// ones would be reached: the packaging machine as a Modbus TCP device, the
// cnc mill through an MTConnect agent, the injection press as an S7 PLC, the
// compressor as an OPC UA server, the robot cell as a Sparkplug B device of
// an edge node and an AGV speaking VDA 5050, the last two on an MQTT broker
// of the Server's own. The machines follow the same models as those of a
// Sim, and tick at the same rate.
//
// Sparkplug B and VDA 5050 go to a broker of the Server's own rather than to
// a molen edge's MQTT listener: the listener takes every message it gets as
// UNS data (a Sparkplug payload would be rejected as not JSON and not
// passed on, a VDA 5050 one would be stored under uagv/…), and it refuses
// subscriptions by default; the edge reads these protocols with its
// sparkplug and vda5050 inputs, as it would from a plant's broker.
type Server struct {
	cfg      ServeConfig
	interval time.Duration
	addrs    Addrs

	packaging, mill, press, compressor, cell *machine // nil when not served
	plc                                      *s7test.Server
	agent                                    *mtconnecttest.Agent
	millDown                                 bool // the agent's system condition is a Fault
	agv                                      *vda5050test.AGV
	leak                                     *leakTester // nil without Drop

	modbusRegs atomic.Pointer[map[uint16]uint16]
	opcua      *opcuaServer
	brokers    []*mochi.Server
	cellBroker *mochi.Server
	agvBroker  *mochi.Server
	node       *sparkplugtest.Node
	rebirth    chan struct{} // a Sparkplug host asked for the births again

	cancel    context.CancelFunc // ends the Modbus server and the MTConnect agent
	started   atomic.Bool
	closeOnce sync.Once
}

// Serve starts the servers of cfg and returns once they listen; the
// machines hold their initial values until Run ticks them. Run, or Close if
// Run is never called, stops them.
func Serve(cfg ServeConfig) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("sim serve config: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{cfg: cfg, interval: interval(cfg.Rate), cancel: cancel, rebirth: make(chan struct{}, 1)}
	asset := func(k *kind) string { return cfg.Site + "/" + Area + "/" + Line + "/" + k.name }
	if err := s.start(ctx, asset); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) start(ctx context.Context, asset func(*kind) string) error {
	cfg := s.cfg
	if cfg.Modbus != "" {
		k := kindNamed(ModbusMachine)
		s.packaging = newMachine(k, cfg.Seed, asset(k))
		s.publishRegisters()
		addr, err := modbustest.ServeFactory(ctx, cfg.Modbus, func() map[uint16]uint16 { return *s.modbusRegs.Load() })
		if err != nil {
			return fmt.Errorf("serve %s over Modbus TCP on %s: %w", ModbusMachine, cfg.Modbus, err)
		}
		s.addrs.Modbus = addr
	}
	if cfg.MTConnect != "" {
		k := kindNamed(MTConnectMachine)
		s.mill = newMachine(k, cfg.Seed, asset(k))
		s.agent = mtconnecttest.NewAgent(MTConnectDevice, mtconnectBuffer, mtconnectItems(k)...)
		s.publishMTConnect(time.Now())
		addr, err := s.agent.Serve(ctx, cfg.MTConnect)
		if err != nil {
			return fmt.Errorf("serve %s over MTConnect on %s: %w", MTConnectMachine, cfg.MTConnect, err)
		}
		s.addrs.MTConnect = addr
	}
	if cfg.S7 != "" {
		k := kindNamed(S7Machine)
		s.press = newMachine(k, cfg.Seed, asset(k))
		plc, err := startS7(cfg.S7)
		if err != nil {
			return fmt.Errorf("serve %s over S7 on %s: %w", S7Machine, cfg.S7, err)
		}
		s.plc, s.addrs.S7 = plc, plc.Addr()
		s.publishS7(time.Now())
	}
	if cfg.OPCUA != "" {
		k := kindNamed(OPCUAMachine)
		s.compressor = newMachine(k, cfg.Seed, asset(k))
		srv, err := startOPCUA(cfg.OPCUA, s.compressor)
		if err != nil {
			return fmt.Errorf("serve %s over OPC UA on %s: %w", OPCUAMachine, cfg.OPCUA, err)
		}
		s.opcua, s.addrs.OPCUA = srv, srv.addr
	}
	if cfg.Sparkplug != "" {
		b, addr, err := s.broker(cfg.Sparkplug)
		if err != nil {
			return fmt.Errorf("sparkplug broker on %s: %w", cfg.Sparkplug, err)
		}
		s.cellBroker, s.addrs.Sparkplug = b, addr
		s.cell = newMachine(&robotCell, cfg.Seed, asset(&robotCell))
		s.node = sparkplugtest.NewNode(cfg.Site, SparkplugNode, func(topic string, payload []byte) error {
			return b.Publish(topic, payload, false, 1)
		})
		// A host that missed the births (it started later, or saw a gap)
		// asks for them again; the tick loop answers.
		ncmd := "spBv1.0/" + cfg.Site + "/NCMD/" + SparkplugNode
		err = b.Subscribe(ncmd, 1, func(_ *mochi.Client, _ packets.Subscription, pk packets.Packet) {
			if sparkplugtest.IsRebirthRequest(pk.Payload) {
				select {
				case s.rebirth <- struct{}{}:
				default:
				}
			}
		})
		if err != nil {
			return fmt.Errorf("subscribe to %s: %w", ncmd, err)
		}
	}
	if cfg.VDA5050 != "" {
		b, addr, err := s.broker(cfg.VDA5050)
		if err != nil {
			return fmt.Errorf("vda5050 broker on %s: %w", cfg.VDA5050, err)
		}
		s.agvBroker, s.addrs.VDA5050 = b, addr
		s.agv = vda5050test.NewAGV(AGVManufacturer, AGVSerial, uint64(cfg.Seed))
		s.agv.MapID = Area
	}
	if cfg.Drop != "" {
		k := &kind{name: LeakTester}
		l, err := newLeakTester(cfg.Drop, asset(k), cfg.Seed)
		if err != nil {
			return err
		}
		s.leak = l
	}
	return nil
}

// broker returns the Server's MQTT broker at addr, starting it unless a
// broker already runs there (Sparkplug and VDA 5050 may share one).
func (s *Server) broker(addr string) (*mochi.Server, string, error) {
	if s.cellBroker != nil && addr == s.cfg.Sparkplug {
		return s.cellBroker, s.addrs.Sparkplug, nil
	}
	b := mochi.New(&mochi.Options{InlineClient: true, Logger: slog.New(slog.DiscardHandler)})
	if err := b.AddHook(new(auth.AllowHook), nil); err != nil {
		return nil, "", err
	}
	l := listeners.NewTCP(listeners.Config{ID: "sim", Address: addr})
	if err := b.AddListener(l); err != nil {
		return nil, "", err
	}
	if err := b.Serve(); err != nil {
		b.Close()
		return nil, "", err
	}
	s.brokers = append(s.brokers, b)
	return b, l.Address(), nil
}

// Addrs returns the addresses the Server listens on.
func (s *Server) Addrs() Addrs { return s.addrs }

// Machines returns the asset paths of the machines the Server serves (the
// AGV is a vehicle, not a machine: see AGV).
func (s *Server) Machines() []string {
	var out []string
	for _, m := range []*machine{s.packaging, s.mill, s.press, s.compressor, s.cell} {
		if m != nil {
			out = append(out, m.asset)
		}
	}
	return out
}

// AGV returns the UNS asset path of the AGV as the edge's vda5050 input
// names it with Inputs' settings, or "" without VDA 5050.
func (s *Server) AGV() string {
	if s.agv == nil {
		return ""
	}
	return s.cfg.Site + "/" + Area + "/agv/" + AGVManufacturer + "-" + AGVSerial
}

// Run ticks the served machines until ctx ends, then stops the servers
// (publishing the Sparkplug node's death and the AGV's OFFLINE first). Run
// may be called once.
func (s *Server) Run(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("sim: Server.Run called twice")
	}
	defer s.Close()
	log := s.cfg.Log
	if s.node != nil {
		s.node.NewSession()
		if err := s.birth(); err != nil {
			log.Warn("sim sparkplug birth", "err", err)
		}
	}
	if s.agv != nil {
		if err := s.agv.Publish(s.agvBroker, "connection", time.Now(), 1); err != nil {
			log.Warn("sim agv connection", "err", err)
		}
	}
	tick := time.NewTicker(s.interval)
	defer tick.Stop()
	var failing bool // a publish failed since the last success: log once
	for {
		select {
		case <-ctx.Done():
			s.goodbye()
			return nil
		case <-s.rebirth:
			if err := s.birth(); err != nil {
				log.Warn("sim sparkplug rebirth", "err", err)
			}
		case now := <-tick.C:
			err := s.tick(now)
			switch {
			case err != nil && !failing:
				log.Warn("sim publish failed", "err", err)
			case err == nil && failing:
				log.Info("sim publishes again")
			}
			failing = err != nil
		}
	}
}

// tick advances every served machine and the AGV by one tick and updates
// what the servers serve.
func (s *Server) tick(now time.Time) error {
	var errs []error
	if s.packaging != nil {
		s.packaging.advance()
		s.publishRegisters()
	}
	if s.mill != nil {
		s.mill.advance()
		s.publishMTConnect(now)
	}
	if s.press != nil {
		s.press.advance()
		s.publishS7(now)
	}
	if s.compressor != nil {
		s.compressor.advance()
		s.opcua.update(s.compressor, now)
	}
	if s.cell != nil {
		s.cell.advance()
		errs = append(errs, s.node.DeviceData(SparkplugMachine, cellMetrics(s.cell)...))
	}
	if s.agv != nil {
		s.agv.Step(time.Duration(TickSeconds * float64(time.Second)))
		errs = append(errs, s.agv.Publish(s.agvBroker, "state", now, 0), s.agv.Publish(s.agvBroker, "visualization", now, 0))
	}
	if s.leak != nil {
		errs = append(errs, s.leak.test(now))
	}
	return errors.Join(errs...)
}

// birth publishes the node's NBIRTH and the robot cell's DBIRTH with its
// current values.
func (s *Server) birth() error {
	if err := s.node.Birth(); err != nil {
		return err
	}
	return s.node.DeviceBirth(SparkplugMachine, cellMetrics(s.cell)...)
}

// goodbye says what devices say when they go away cleanly.
func (s *Server) goodbye() {
	if s.node != nil {
		_ = s.node.Death() // best effort: the broker stops next
	}
	if s.agv != nil {
		s.agv.Connection = "OFFLINE"
		_ = s.agv.Publish(s.agvBroker, "connection", time.Now(), 1)
	}
}

// Close stops the servers. Run calls it when it returns; call it only when
// Run is never called. It is safe to call more than once.
func (s *Server) Close() error {
	var errs []error
	s.closeOnce.Do(func() {
		s.cancel()
		if s.opcua != nil {
			errs = append(errs, s.opcua.close())
		}
		if s.plc != nil {
			errs = append(errs, s.plc.Close())
		}
		for _, b := range s.brokers {
			errs = append(errs, b.Close())
		}
	})
	return errors.Join(errs...)
}
