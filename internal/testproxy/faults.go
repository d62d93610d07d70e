package testproxy

import (
	"io"
	"sync"
)

// faults damage what the target sends back, one connection at a time, so
// that tests can check the damage is detected. A connection's fault is
// chosen when it is accepted.
type faults struct {
	mu       sync.Mutex
	corrupt  int // connections left to corrupt
	truncate int // connections left to cut short
	at       int64
	damaged  int
}

// Corrupt flips one byte of what the target sends on each of the next n
// connections: the byte at offset at of the connection's response bytes
// (HTTP headers come first, so at should be past them).
func (p *Proxy) Corrupt(n int, at int64) {
	p.faults.mu.Lock()
	defer p.faults.mu.Unlock()
	p.faults.corrupt, p.faults.at = n, at
}

// Truncate closes each of the next n connections once the target has sent
// at bytes on it.
func (p *Proxy) Truncate(n int, at int64) {
	p.faults.mu.Lock()
	defer p.faults.mu.Unlock()
	p.faults.truncate, p.faults.at = n, at
}

// Damaged returns how many connections have had a byte flipped or been cut
// short so far.
func (p *Proxy) Damaged() int {
	p.faults.mu.Lock()
	defer p.faults.mu.Unlock()
	return p.faults.damaged
}

// wrap returns the reader of what src sends, with the fault the next
// connection gets, if any.
func (f *faults) wrap(src io.Reader) io.Reader {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.corrupt > 0:
		f.corrupt--
		return &faultyReader{r: src, at: f.at, f: f}
	case f.truncate > 0:
		f.truncate--
		return &faultyReader{r: src, at: f.at, f: f, cut: true}
	}
	return src
}

func (f *faults) record() {
	f.mu.Lock()
	f.damaged++
	f.mu.Unlock()
}

// faultyReader flips the byte at offset at, or ends there when cut.
type faultyReader struct {
	r   io.Reader
	at  int64
	f   *faults
	cut bool
	off int64
}

func (r *faultyReader) Read(p []byte) (int, error) {
	if r.cut {
		if r.off >= r.at {
			return 0, io.EOF
		}
		p = p[:min(int64(len(p)), r.at-r.off)]
	}
	n, err := r.r.Read(p)
	if !r.cut && r.at >= r.off && r.at < r.off+int64(n) {
		p[r.at-r.off] ^= 0x20
		r.f.record()
	}
	r.off += int64(n)
	if r.cut && r.off >= r.at {
		r.f.record()
		return n, io.EOF
	}
	return n, err
}
