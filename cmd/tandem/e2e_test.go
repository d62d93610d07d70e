package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tandemhq/tandem/control"
	"github.com/tandemhq/tandem/internal/retry"
)

// binary is the tandem binary the end-to-end tests run, built once.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tandem-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "tandem")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build tandem: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer collects a process's output safely across goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// freePortBase returns N such that N, N+1 and N+2 are free on loopback.
func freePortBase(t testing.TB) int {
	t.Helper()
	for range 100 {
		base := 20000 + rand.IntN(30000)
		ok := true
		for p := base; p < base+3 && ok; p++ {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				ok = false
				continue
			}
			ln.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no three free consecutive ports")
	return 0
}

// upProcess is a running `tandem up`.
type upProcess struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

// startUp runs `tandem up` and waits until it says it is up. Its output is
// printed if the test fails.
func startUp(t testing.TB, dir string, base int, flags ...string) *upProcess {
	t.Helper()
	p := &upProcess{out: &syncBuffer{}, done: make(chan struct{})}
	args := append([]string{"up", "--dir", dir, "--port-base", strconv.Itoa(base), "--restart-delay", "300ms"}, flags...)
	p.cmd = exec.Command(binary, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := startWithDeathSignal(p.cmd); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("tandem up output:\n%s", p.out.String())
		}
	})
	retry.Until(t, 50*time.Millisecond, 60*time.Second, func() error {
		select {
		case <-p.done:
			t.Fatalf("tandem up exited early:\n%s", p.out.String())
		default:
		}
		if !strings.Contains(p.out.String(), "tandem is up") {
			return fmt.Errorf("not up yet")
		}
		return nil
	})
	return p
}

// stop interrupts up as Ctrl-C would and waits for it to exit.
func (p *upProcess) stop(t testing.TB) {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		t.Errorf("tandem up did not stop within 20s of SIGINT")
		<-p.done
	}
}

type response struct {
	status int
	body   string
	region string
}

func call(t testing.TB, method, url, body string) response {
	t.Helper()
	return callWith(t, method, url, body)
}

// callWith is call with more request headers, given as name, value pairs.
func callWith(t testing.TB, method, url, body string, headers ...string) response {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return response{status: -1, body: err.Error()}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, strings.TrimSpace(string(b)), resp.Header.Get("X-Tandem-Region")}
}

// cli runs a tandem command and returns what it printed on stdout.
func cli(t testing.TB, args ...string) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(binary, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tandem %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

func status(t testing.TB, dir string) control.Status {
	t.Helper()
	var st control.Status
	if err := json.Unmarshal([]byte(cli(t, "status", "--json", "--checksums", "--dir", dir)), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func commentJSON(id string) string {
	return fmt.Sprintf(`{"commentId":%q,"photoId":"photo-1","user":"jerome","message":"message %s"}`, id, id)
}

// countComments returns how many comments photo-1 has at base.
func countComments(t testing.TB, base string) (int, error) {
	r := call(t, "GET", base+"/api/comments/photo-1", "")
	if r.status != 200 {
		return 0, fmt.Errorf("list comments at %s: %d %s", base, r.status, r.body)
	}
	var got struct{ Comments []json.RawMessage }
	if err := json.Unmarshal([]byte(r.body), &got); err != nil {
		return 0, err
	}
	return len(got.Comments), nil
}

func waitComments(t testing.TB, base string, want int) {
	t.Helper()
	retry.Until(t, 20*time.Millisecond, 20*time.Second, func() error {
		n, err := countComments(t, base)
		if err != nil {
			return err
		}
		if n != want {
			return fmt.Errorf("%s has %d comments, want %d", base, n, want)
		}
		return nil
	})
}

func readPID(t testing.TB, dir, name string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "run", name+".pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// execOutput runs a command and returns its combined output.
func execOutput(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}
