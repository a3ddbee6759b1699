package harness

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"diemcau/ingest/camsim"
)

// NodeFigures are what a hub with point nodes measured: each node is a
// diemcau process of its own that sends its camera to the hub and plays
// its return feed back.
type NodeFigures struct {
	// ReturnFeed is camera → point node → hub composite → the node's
	// return feed: a flash leaving camsim to the arrival at a viewer of
	// the node's own re-served return feed (/whep/sources/hub on the
	// node) of the picture showing it, every node's tile, all nodes.
	ReturnFeed    Percentiles `json:"return_feed_ms"`
	ReturnFlashes int         `json:"return_flashes"`
	// HubComposite is the same flashes at a viewer of the hub's composite:
	// the way there, without the way back.
	HubComposite    Percentiles `json:"hub_composite_ms"`
	HubFlashes      int         `json:"hub_flashes"`
	ExpectedFlashes int         `json:"expected_flashes"` // per viewer: one a second from each node
	// CPU and memory per node process over the window.
	CPUPerNode     float64   `json:"cpu_per_node_cores"`
	CPUPerNodeMax  float64   `json:"cpu_per_node_max_cores"`
	PeakRSSPerNode uint64    `json:"peak_rss_per_node_bytes"`
	PerNode        []NodeRun `json:"per_node"`
}

// NodeRun is one node's figures.
type NodeRun struct {
	Node       string      `json:"node"`
	CPU        float64     `json:"cpu_cores"`
	FPS        float64     `json:"return_feed_fps"` // pictures of the return feed in the window, per second
	ReturnFeed Percentiles `json:"return_feed_ms"`
	Flashes    int         `json:"flashes"`
}

// pointNode is one point node the run started.
type pointNode struct {
	name   string
	server *Server
	viewer *flashViewer
}

// runNodes: a hub and `nodes` point nodes, each a `diemcau serve` of its
// own on loopback. Node i reads camsim camera i over RTSP, composites it
// as its program and publishes it over WHIP to point i of the hub's
// grid session (its point invite); the hub's composite comes back to
// each node as its return feed (WHEP). A viewer of each node's re-served
// return feed and one of the hub's composite time the avsync flashes.
func runNodes(ctx context.Context, e *env, r *Run) error {
	o := e.opts
	r.Params.Points, r.Params.Audio = o.Nodes, true
	r.Params.OutWidth, r.Params.OutHeight, r.Params.OutKbps = o.OutWidth, o.OutHeight, o.OutKbps
	if o.Target != "" {
		return fmt.Errorf("nodes: starts its own hub and nodes; --target is not used")
	}
	e.pattern = true
	cam, err := e.startCamsim(ctx, o.Nodes, true)
	if err != nil {
		return err
	}
	if e.server, err = e.startServer(ctx); err != nil {
		return err
	}
	if err := e.readInfo(ctx, r); err != nil {
		return err
	}
	sid, invites, err := e.hubSession(ctx, o.Nodes)
	if err != nil {
		return err
	}
	nodes := make([]*pointNode, o.Nodes)
	for i := range nodes {
		if nodes[i], err = e.startNode(ctx, i+1, cam, invites[i]); err != nil {
			return err
		}
	}
	e.progress("nodes: waiting for %d programs at the hub and %d return feeds", o.Nodes, o.Nodes)
	watch := e.nodeWatch(nodes)
	err = waitFor(ctx, 3*time.Minute, "every node's program at the hub and its return feed back", watch, func() bool {
		for i, n := range nodes {
			hub, err1 := e.server.API.Source(ctx, fmt.Sprintf("%sp%d", e.prefix, i+1))
			ret, err2 := n.server.API.Source(ctx, "hub")
			if err1 != nil || err2 != nil || hub.State != "online" || ret.State != "online" || ret.Frames == 0 {
				return false
			}
		}
		return true
	})
	if err != nil {
		return err
	}
	e.progress("latency: connecting the flash viewers")
	for _, n := range nodes {
		if n.viewer, err = dialFlashViewer(ctx, n.server.API.Base, "/whep/sources/hub", n.server.API.Token); err != nil {
			return fmt.Errorf("%s: return feed viewer: %w", n.name, err)
		}
		e.closers = append(e.closers, n.viewer.close)
	}
	hubView, err := dialFlashViewer(ctx, e.server.API.Base, "/whep/sessions/"+sid, e.server.API.Token)
	if err != nil {
		return fmt.Errorf("hub composite viewer: %w", err)
	}
	e.closers = append(e.closers, hubView.close)
	if err := e.sleep(ctx, o.Warmup, "warming up"); err != nil {
		return err
	}

	ss := &sessionSampler{api: e.server.API, id: sid}
	if err := ss.begin(ctx); err != nil {
		return err
	}
	var extra []procRef
	for _, n := range nodes {
		extra = append(extra, procRef{role: n.name, pid: n.server.pid})
	}
	m := e.newMeter(extra...)
	record := func(on bool) {
		hubView.record(on)
		for _, n := range nodes {
			n.viewer.record(on)
		}
	}
	var hubSources []string
	for i := range nodes {
		hubSources = append(hubSources, fmt.Sprintf("%sp%d", e.prefix, i+1))
	}
	in0 := e.ingest(ctx, hubSources)
	record(true)
	win, samples, err := e.measureNodes(ctx, m, watch, func() string { return ss.sample(ctx) })
	record(false)
	in1 := e.ingest(ctx, hubSources)
	r.InputRTPLost = ptr(in1.lost - min(in0.lost, in1.lost))
	r.WindowS, r.Samples = win, samples
	if err != nil {
		return err
	}
	r.endWindow(m.end(ctx))
	ss.sample(ctx)
	ss.fill(r, win)

	e.progress("latency: decoding what the flash viewers received")
	nf, err := e.nodeFigures(ctx, r, nodes, hubView, win)
	if err != nil {
		return err
	}
	r.Nodes = nf
	r.note("return feed: camsim's flash leaving (a known wall-clock time) to the arrival at a viewer of the node's own re-served return feed (/whep/sources/hub on the node) of the picture showing it: camera → node ingest → node composite → WHIP → hub ingest → hub composite → WHEP → node → WHEP viewer, every node's tile")
	r.note("hub composite: the same flashes at a viewer of the hub's composite (the way back left out)")
	r.note("delivered fps: pictures of each node's return feed at its viewer; server: the hub; each node's CPU is its process's, over the window")
	return nil
}

// hubSession adds a whip:// source per node, a live grid session of them
// (not recorded: the nodes' costs are the subject) and a point invite per
// point; it returns the session id and the invites' tokens.
func (e *env) hubSession(ctx context.Context, n int) (string, []string, error) {
	o := e.opts
	api := e.server.API
	sid := e.prefix + "session"
	spec := SessionSpec{ID: sid, Title: "diemcau bench nodes", Layout: "grid",
		Output: map[string]int{"width": o.OutWidth, "height": o.OutHeight, "fps": o.FPS, "bitrate": o.OutKbps}}
	for i := range n {
		id := fmt.Sprintf("%sp%d", e.prefix, i+1)
		if err := api.do(ctx, http.MethodPost, "/api/v1/sources", map[string]string{"id": id, "url": "whip://"}, nil); err != nil {
			return "", nil, fmt.Errorf("hub: source %s: %w", id, err)
		}
		spec.Points = append(spec.Points, SessionPoint{ID: fmt.Sprintf("p%d", i+1), Source: id})
	}
	if err := api.CreateSession(ctx, spec); err != nil {
		return "", nil, err
	}
	if err := api.StartSession(ctx, sid, "live"); err != nil {
		return "", nil, err
	}
	var tokens []string
	for _, p := range spec.Points {
		var inv struct {
			Token string `json:"token"`
		}
		body := map[string]string{"name": "bench " + p.ID, "point": p.ID}
		if err := api.do(ctx, http.MethodPost, "/api/v1/sessions/"+sid+"/invites", body, &inv); err != nil {
			return "", nil, fmt.Errorf("hub: invite for %s: %w", p.ID, err)
		}
		tokens = append(tokens, inv.Token)
	}
	return sid, tokens, nil
}

// startNode runs point node i: its camera is camsim's camera of point i,
// its program a one-point session sent to the hub with its invite.
func (e *env) startNode(ctx context.Context, i int, cam, invite string) (*pointNode, error) {
	o := e.opts
	name := fmt.Sprintf("node%d", i)
	dir := filepath.Join(e.dir, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	extra := fmt.Sprintf(`hub: {url: %q, point: p%d, token: %q}
sources:
  - {id: cam, url: "%s/cam%d", transport: tcp}
sessions:
  - id: %sprogram%d
    start: live
    record: true
    output: {width: %d, height: %d, fps: %d, bitrate: %d}
    points:
      - {id: cam, source: cam}
`, e.server.API.Base, i, invite, cam, e.cameraOf(i), e.prefix, i, o.Width, o.Height, o.FPS, o.BitrateKbps)
	var lastErr error
	for range 3 {
		s, err := e.launchServer(ctx, name, dir, extra)
		if err == nil {
			return &pointNode{name: name, server: s}, nil
		}
		if s != nil {
			s.proc.Stop(5 * time.Second)
		}
		lastErr = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, fmt.Errorf("%s: %w", name, lastErr)
}

// nodeWatch is every child whose early exit ends the run: camsim, the
// hub and the nodes.
func (e *env) nodeWatch(nodes []*pointNode) []*Proc {
	w := e.watch()
	for _, n := range nodes {
		if n != nil {
			w = append(w, n.server.proc)
		}
	}
	return w
}

// measureNodes is env.measure watching the nodes too.
func (e *env) measureNodes(ctx context.Context, m *meter, watch []*Proc, onSecond func() string) (float64, []Sample, error) {
	stop := make(chan struct{})
	died := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(500 * time.Millisecond):
			}
			for _, p := range watch {
				if exited(p) {
					died <- p.ExitError()
					return
				}
			}
		}
	}()
	win, samples, err := e.measure(ctx, m, nil, onSecond)
	close(stop)
	select {
	case derr := <-died:
		return win, samples, derr
	default:
	}
	return win, samples, err
}

// nodeFigures decodes what the viewers received and fills the nodes'
// figures and the run's delivered fps (the return feeds').
func (e *env) nodeFigures(ctx context.Context, r *Run, nodes []*pointNode, hubView *flashViewer, win float64) (*NodeFigures, error) {
	o := e.opts
	phases := make([]time.Duration, o.Nodes)
	for i := range phases {
		phases[i] = camsim.PatternPhase(e.cameraOf(i+1), e.camsimCameras(o.Nodes))
	}
	tiles := tileMiddles(o.Nodes, o.OutWidth, o.OutHeight)
	nf := &NodeFigures{ExpectedFlashes: int(win) * o.Nodes}
	var all []float64
	var fpsSum, fpsMin float64
	for i, n := range nodes {
		ms, err := n.viewer.flashLatencies(ctx, e.dir, tiles, phases)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n.name, err)
		}
		nr := NodeRun{Node: n.name, ReturnFeed: percentiles(ms), Flashes: len(ms), FPS: float64(n.viewer.pictures()) / win}
		for _, p := range r.Processes {
			if p.Role == n.name {
				nr.CPU = p.CPU
				nf.CPUPerNode += p.CPU / float64(len(nodes))
				nf.CPUPerNodeMax = max(nf.CPUPerNodeMax, p.CPU)
				nf.PeakRSSPerNode = max(nf.PeakRSSPerNode, p.PeakRSS)
			}
		}
		nf.PerNode = append(nf.PerNode, nr)
		all = append(all, ms...)
		fpsSum += nr.FPS
		if i == 0 || nr.FPS < fpsMin {
			fpsMin = nr.FPS
		}
	}
	nf.ReturnFeed, nf.ReturnFlashes = percentiles(all), len(all)
	hub, err := hubView.flashLatencies(ctx, e.dir, tiles, phases)
	if err != nil {
		return nil, fmt.Errorf("hub composite: %w", err)
	}
	nf.HubComposite, nf.HubFlashes = percentiles(hub), len(hub)
	r.DeliveredFPS, r.DeliveredFPSMin = ptr(fpsSum/float64(len(nodes))), ptr(fpsMin)
	// The window's edges cut a flash or two per viewer.
	if nf.ReturnFlashes < nf.ExpectedFlashes*len(nodes)*2/3 {
		r.fail("%d flashes timed at the return feeds, %d left the cameras", nf.ReturnFlashes, nf.ExpectedFlashes*len(nodes))
	}
	return nf, nil
}

// pictures counts the whole pictures recorded (packets that end one).
func (v *flashViewer) pictures() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := 0
	for _, a := range v.pkts {
		if a.pkt.Marker {
			n++
		}
	}
	return n
}

// writeNodes prints a nodes run's latency and per-node CPU.
func writeNodes(w io.Writer, r *Run) {
	nf := r.Nodes
	if nf == nil {
		return
	}
	fmt.Fprintf(w, "%s=%d camera → hub composite → return feed at the node: p50/p95 %s ms (%d flashes of %d); at the hub's composite %s ms (%d of %d)\n",
		r.LoadName, r.Load, latency(nf.ReturnFeed), nf.ReturnFlashes, nf.ExpectedFlashes*len(nf.PerNode), latency(nf.HubComposite), nf.HubFlashes, nf.ExpectedFlashes)
	fmt.Fprintf(w, "%s=%d CPU per node %.2f cores (max %.2f), peak RSS %s;", r.LoadName, r.Load, nf.CPUPerNode, nf.CPUPerNodeMax, mb(nf.PeakRSSPerNode))
	for _, n := range nf.PerNode {
		fmt.Fprintf(w, " %s %.2f cores %.1f fps %s ms", n.Node, n.CPU, n.FPS, latency(n.ReturnFeed))
	}
	fmt.Fprintln(w)
}
