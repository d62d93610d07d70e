package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/tandemhq/tandem"
)

// upOptions are the flags of `tandem up`.
type upOptions struct {
	dir          string
	portBase     int
	restartDelay time.Duration
	replication  string
	// autoFailover, maxAutoFailoverLag and webhook go into the edge's
	// controller configuration.
	autoFailover       bool
	maxAutoFailoverLag uint64
	cooldown           time.Duration
	webhook            string
	// store is the regions' store: sqlite, or postgres (servers up runs);
	// storeSet says it was given on the command line.
	store    string
	storeSet bool
}

// runUp is `tandem up`: edge + controller and two regions as separate
// processes on loopback, supervised until Ctrl-C.
func runUp(args []string) error {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	var o upOptions
	fs.StringVar(&o.dir, "dir", "tandem-data", "data `directory`; running up again on it keeps all data")
	fs.IntVar(&o.portBase, "port-base", 8080, "edge port; us-east-1 listens on N+1 and ap-northeast-1 on N+2")
	fs.DurationVar(&o.restartDelay, "restart-delay", 10*time.Second, "how long after a component dies it is started again (0: never); a file DIR/run/NAME.hold keeps it down")
	fs.StringVar(&o.replication, "replication", "async", "async: acknowledge at commit; sync: acknowledge once the standby has the write")
	fs.BoolVar(&o.autoFailover, "auto-failover", true, "fail a dead writer over automatically (guard rails: healthy standby, --max-auto-failover-lag, 5m cooldown)")
	fs.Uint64Var(&o.maxAutoFailoverLag, "max-auto-failover-lag", 0, "entries the standby may lack for an automatic failover (0: the default, 1000)")
	fs.DurationVar(&o.cooldown, "auto-failover-cooldown", 0, "no automatic failover within this long of the last one (0: the default, 5m)")
	fs.StringVar(&o.webhook, "alarm-webhook", "", "`URL` that receives every alarm transition as a JSON POST")
	fs.StringVar(&o.store, "store", "sqlite", "regions' store: sqlite (a file each), or postgres (a PostgreSQL server each, run by up in DIR/postgres)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: tandem up [--dir DIR] [--port-base N]\n\nRuns the whole system on this machine: the edge with the controller, and the\nregions us-east-1 (writer) and ap-northeast-1 (standby), each its own process.\nCtrl-C stops everything.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.portBase < 1 || o.portBase > 65533 {
		return fmt.Errorf("--port-base must be between 1 and 65533")
	}
	fs.Visit(func(f *flag.Flag) { o.storeSet = o.storeSet || f.Name == "store" })
	dir, err := filepath.Abs(o.dir)
	if err != nil {
		return err
	}
	o.dir = dir
	d, err := prepareDeployment(o)
	if err != nil {
		return err
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return err
	}
	defer unlock()
	return d.run()
}

// deployment is what `up` runs.
type deployment struct {
	opts       upOptions
	appID      string
	edgeURL    string
	components []*component
}

// prepareDeployment creates the data directory, the cluster secret, the app
// id and the configurations, keeping those that exist.
func prepareDeployment(o upOptions) (*deployment, error) {
	for _, sub := range []string{"", "logs", "run"} {
		if err := os.MkdirAll(filepath.Join(o.dir, sub), 0o700); err != nil {
			return nil, err
		}
	}
	secretFile := filepath.Join(o.dir, "secret")
	if _, err := ensureFile(secretFile, func() string {
		b := make([]byte, 32)
		rand.Read(b)
		return hex.EncodeToString(b)
	}); err != nil {
		return nil, err
	}
	appID, err := ensureFile(filepath.Join(o.dir, "app-id"), func() string { return uuid.NewString() })
	if err != nil {
		return nil, err
	}
	var firstRun bool
	if o.store, firstRun, err = rememberedStore(o); err != nil {
		return nil, err
	}
	url := func(port int) string { return fmt.Sprintf("http://127.0.0.1:%d", port) }
	d := &deployment{opts: o, appID: appID, edgeURL: url(o.portBase)}
	names := []string{tandem.DefaultWriterRegion, tandem.DefaultStandbyRegion}
	edgeCfg := EdgeConfig{
		Listen:     fmt.Sprintf("127.0.0.1:%d", o.portBase),
		SecretFile: secretFile,
		Controller: ControllerConfig{Path: filepath.Join(o.dir, "control.db"), AppID: appID,
			AutoFailover: o.autoFailover, MaxAutoFailoverLag: o.maxAutoFailoverLag, AutoFailoverCooldown: o.cooldown},
	}
	if o.webhook != "" {
		edgeCfg.Controller.AlarmWebhooks = []string{o.webhook}
	}
	for i, name := range names {
		edgeCfg.Controller.Regions = append(edgeCfg.Controller.Regions, RegionRef{Name: name, URL: url(o.portBase + 1 + i)})
	}
	edgePath := filepath.Join(o.dir, "edge.yaml")
	if err := writeYAML(edgePath, edgeCfg); err != nil {
		return nil, err
	}
	d.components = append(d.components, &component{name: "edge", args: []string{"edge", "--config", edgePath}, health: d.edgeURL + "/metrics"})
	for i, name := range names {
		cfg := RegionConfig{
			Name:        name,
			Listen:      fmt.Sprintf("127.0.0.1:%d", o.portBase+1+i),
			URL:         url(o.portBase + 1 + i),
			DataDir:     filepath.Join(o.dir, name),
			Controller:  d.edgeURL,
			SecretFile:  secretFile,
			Replication: ReplicationConfig{Mode: o.replication},
		}
		if o.store == "postgres" {
			var err error
			if cfg.Store, err = postgresStoreConfig(o.dir, name); err != nil {
				return nil, err
			}
		}
		if err := cfg.Replication.validate(); err != nil {
			return nil, err
		}
		path := filepath.Join(o.dir, name+".yaml")
		if err := writeYAML(path, cfg); err != nil {
			return nil, err
		}
		d.components = append(d.components, &component{name: name, args: []string{"region", "--config", path}, health: cfg.URL + "/healthz"})
	}
	if firstRun { // only now: a store that cannot be set up is not recorded
		if err := os.WriteFile(filepath.Join(o.dir, "store"), []byte(o.store+"\n"), 0o600); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// rememberedStore returns the store the data directory was first run with
// (kept in DIR/store), or o.store and true on the first run, which records
// it once the deployment is prepared: running up again without --store
// keeps the regions' data where it is, and a different --store is refused
// rather than starting empty stores beside the old ones.
func rememberedStore(o upOptions) (string, bool, error) {
	if o.store != "sqlite" && o.store != "postgres" {
		return "", false, fmt.Errorf("--store must be sqlite or postgres, not %q", o.store)
	}
	path := filepath.Join(o.dir, "store")
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return o.store, true, nil
	} else if err != nil {
		return "", false, err
	}
	switch recorded := strings.TrimSpace(string(b)); {
	case recorded != "sqlite" && recorded != "postgres":
		return "", false, fmt.Errorf("%s names the store %q; it must be sqlite or postgres", path, recorded)
	case o.storeSet && recorded != o.store:
		return "", false, fmt.Errorf("%s holds regions on %s; run up on it with --store %s (or without --store), or use another --dir for %s", o.dir, recorded, recorded, o.store)
	default:
		return recorded, false, nil
	}
}

// ensureFile returns the trimmed content of path, first writing make()'s
// result there (mode 0600) if the file does not exist.
func ensureFile(path string, make func() string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !os.IsNotExist(err) {
		return "", err
	}
	v := make()
	if err := os.WriteFile(path, []byte(v+"\n"), 0o600); err != nil {
		return "", err
	}
	return v, nil
}

// lockDir takes an exclusive lock on dir, so two `up`s never share it.
func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, "run", "up.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s is in use by another 'tandem up'", dir)
	}
	return func() { f.Close() }, nil
}

// component is one supervised child process.
type component struct {
	name   string
	args   []string
	health string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

func (d *deployment) run() error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if d.opts.store == "postgres" {
		stopPostgres, err := d.startPostgres(ctx)
		defer stopPostgres() // after the regions have stopped
		if err != nil {
			return err
		}
	}
	var wg sync.WaitGroup
	for _, c := range d.components {
		if err := c.start(exe, d.opts.dir); err != nil {
			d.stop()
			return err
		}
		wg.Add(1)
		go func() { defer wg.Done(); d.supervise(ctx, exe, c) }()
	}
	if err := d.waitHealthy(30 * time.Second); err != nil {
		cancel()
		d.stop()
		wg.Wait()
		return err
	}
	adminPassword, err := d.ensureAdmin()
	if err != nil {
		fmt.Printf("tandem: %v\n", err)
	}
	d.printBanner(adminPassword)
	waitForSignal()
	fmt.Println("tandem: stopping")
	cancel()
	d.stop()
	wg.Wait()
	fmt.Println("tandem: stopped")
	return nil
}

func (c *component) start(exe, dir string) error {
	logFile, err := os.OpenFile(filepath.Join(dir, "logs", c.name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(exe, c.args...)
	cmd.Env = os.Environ()
	if os.Getenv("TANDEM_LOG") == "" {
		cmd.Env = append(cmd.Env, "TANDEM_LOG=text")
	}
	out := io.MultiWriter(logFile, &prefixWriter{prefix: fmt.Sprintf("%-15s| ", c.name), w: os.Stdout})
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	// The child gets SIGTERM if up itself dies, even by SIGKILL.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := startWithDeathSignal(cmd); err != nil {
		pw.Close()
		logFile.Close()
		return fmt.Errorf("start %s: %w", c.name, err)
	}
	writePIDFile(dir, c.name, cmd.Process.Pid)
	done := make(chan struct{})
	go func() {
		io.Copy(out, pr)
		logFile.Close()
	}()
	go func() {
		cmd.Wait()
		pw.Close()
		close(done)
	}()
	c.mu.Lock()
	c.cmd, c.done = cmd, done
	c.mu.Unlock()
	return nil
}

// writePIDFile writes DIR/run/NAME.pid aside and renames it, so a reader
// never sees a half-written file.
func writePIDFile(dir, name string, pid int) {
	path := filepath.Join(dir, "run", name+".pid")
	if err := os.WriteFile(path+".tmp", []byte(strconv.Itoa(pid)+"\n"), 0o600); err == nil {
		os.Rename(path+".tmp", path)
	}
}

// supervise restarts c after restartDelay whenever it exits, until ctx ends.
func (d *deployment) supervise(ctx context.Context, exe string, c *component) {
	for {
		c.mu.Lock()
		cmd, done := c.cmd, c.done
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-done:
		}
		if ctx.Err() != nil {
			return
		}
		if d.opts.restartDelay <= 0 {
			fmt.Printf("tandem: %s exited (%v); not restarting\n", c.name, cmd.ProcessState)
			return
		}
		fmt.Printf("tandem: %s exited (%v); restarting in %v\n", c.name, cmd.ProcessState, d.opts.restartDelay)
		select {
		case <-ctx.Done():
			return
		case <-time.After(d.opts.restartDelay):
		}
		if !d.waitHold(ctx, c.name) {
			return
		}
		if err := c.start(exe, d.opts.dir); err != nil {
			fmt.Printf("tandem: restart %s: %v\n", c.name, err)
			return
		}
		fmt.Printf("tandem: %s restarted (pid %d)\n", c.name, c.cmd.Process.Pid)
	}
}

// holdFile is the file that keeps a dead component down while it exists.
func (d *deployment) holdFile(name string) string {
	return filepath.Join(d.opts.dir, "run", name+".hold")
}

// waitHold waits while name's hold file exists: an operator (or a test)
// keeps a dead region down that way, for maintenance or to stage an outage.
func (d *deployment) waitHold(ctx context.Context, name string) bool {
	told := false
	for {
		if _, err := os.Stat(d.holdFile(name)); os.IsNotExist(err) {
			return true
		}
		if !told {
			fmt.Printf("tandem: %s is held down until %s is removed\n", name, d.holdFile(name))
			told = true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stop sends SIGTERM to every component and waits, killing those that do
// not stop within 10 s.
func (d *deployment) stop() {
	for _, c := range d.components {
		c.mu.Lock()
		if c.cmd != nil && c.cmd.Process != nil {
			c.cmd.Process.Signal(syscall.SIGTERM)
		}
		c.mu.Unlock()
	}
	deadline := time.After(10 * time.Second)
	for _, c := range d.components {
		c.mu.Lock()
		cmd, done := c.cmd, c.done
		c.mu.Unlock()
		if cmd == nil {
			continue
		}
		select {
		case <-done:
		case <-deadline:
			cmd.Process.Kill()
			<-done
		}
	}
}

func (d *deployment) waitHealthy(timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for _, c := range d.components {
		for {
			resp, err := client.Get(c.health)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s did not come up within %v (see %s)", c.name, timeout, filepath.Join(d.opts.dir, "logs", c.name+".log"))
			}
			select {
			case <-c.done:
				return fmt.Errorf("%s exited while starting (see %s)", c.name, filepath.Join(d.opts.dir, "logs", c.name+".log"))
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// printBanner says where everything is; adminPassword is the admin's
// temporary password when this run created the admin, shown this once.
func (d *deployment) printBanner(adminPassword string) {
	p := d.opts.portBase
	admin := ""
	if adminPassword != "" {
		admin = fmt.Sprintf("  admin user             admin, temporary password %s (kept in %s)\n",
			adminPassword, filepath.Join(d.opts.dir, adminCredentialsFile))
	}
	fmt.Printf(`
tandem is up
  web app                %s/ (sign in as admin)
  edge + controller      %s
  us-east-1 (writer)     http://127.0.0.1:%d
  ap-northeast-1         http://127.0.0.1:%d
  app id                 %s
  data                   %s
%s
Try:
  curl -s %s/api/state/%s
  TOKEN=$(tandem token --dir %s)       # signs in as the admin
  curl -s %s/api/comments/photo-1 -H "Authorization: Bearer $TOKEN" \
       -H 'Content-Type: application/json' -d '{"commentId":"c1","photoId":"photo-1","message":"hello"}'
  curl -s http://127.0.0.1:%d/api/comments/photo-1      # read it from the standby
  tandem status --dir %s

Press Ctrl-C to stop.
`, d.edgeURL, d.edgeURL, p+1, p+2, d.appID, d.opts.dir, admin, d.edgeURL, d.appID, d.opts.dir, d.edgeURL, p+2, d.opts.dir)
}

// prefixWriter writes each line it is given to w with a prefix.
type prefixWriter struct {
	prefix string
	w      io.Writer
	mu     sync.Mutex
	buf    []byte
}

var stdoutMu sync.Mutex

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := strings.IndexByte(string(p.buf), '\n')
		if i < 0 {
			break
		}
		stdoutMu.Lock()
		fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf[:i])
		stdoutMu.Unlock()
		p.buf = p.buf[i+1:]
	}
	return len(b), nil
}
