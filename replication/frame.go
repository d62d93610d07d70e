// Package replication streams a writer's changelog to its followers: the
// stream server runs in every region, the follower pulls from the writer,
// applies entries in batches and reports its lag.
package replication

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/tandemhq/tandem"
)

// FrameType says what a frame carries.
type FrameType byte

// The frame types of the replication stream.
const (
	// FrameEntries carries a JSON array of consecutive changelog entries.
	FrameEntries FrameType = 'E'
	// FrameHeartbeat carries a JSON Heartbeat.
	FrameHeartbeat FrameType = 'H'
	// FrameError carries a JSON StreamError and ends the stream.
	FrameError FrameType = 'X'
)

// MaxFramePayload bounds a frame's payload, so a corrupt length cannot make a
// reader allocate without limit.
const MaxFramePayload = 16 << 20

// Heartbeat tells a follower where the writer's changelog ends.
type Heartbeat struct {
	Head tandem.Position `json:"head"`
}

// StreamError is why the server ended a stream, with a hint for the operator.
type StreamError struct {
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

// Frame is one message of the stream. On the wire it is the type byte, the
// payload length (4 bytes, big endian), the payload, and the CRC-32C of type
// and payload (4 bytes), so a corrupted frame is detected, never applied.
type Frame struct {
	Type    FrameType
	Payload []byte
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorruptFrame is returned by ReadFrame for a frame that fails its checks.
var ErrCorruptFrame = errors.New("corrupt replication frame")

// WriteFrame writes f to w.
func WriteFrame(w io.Writer, f Frame) error {
	if len(f.Payload) > MaxFramePayload {
		return fmt.Errorf("write frame: payload of %d bytes exceeds %d", len(f.Payload), MaxFramePayload)
	}
	buf := make([]byte, 5+len(f.Payload)+4)
	buf[0] = byte(f.Type)
	binary.BigEndian.PutUint32(buf[1:5], uint32(len(f.Payload)))
	copy(buf[5:], f.Payload)
	crc := crc32.Update(0, castagnoli, buf[:1])
	crc = crc32.Update(crc, castagnoli, f.Payload)
	binary.BigEndian.PutUint32(buf[5+len(f.Payload):], crc)
	_, err := w.Write(buf)
	return err
}

// ReadFrame reads one frame from r. It returns io.EOF at a clean end of
// stream, and an error wrapping ErrCorruptFrame for an unknown type, an
// oversized length or a checksum mismatch.
func ReadFrame(r *bufio.Reader) (Frame, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:1]); err != nil {
		return Frame{}, err
	}
	if _, err := io.ReadFull(r, hdr[1:]); err != nil {
		return Frame{}, unexpected(err)
	}
	f := Frame{Type: FrameType(hdr[0])}
	switch f.Type {
	case FrameEntries, FrameHeartbeat, FrameError:
	default:
		return Frame{}, fmt.Errorf("%w: unknown type 0x%02x", ErrCorruptFrame, hdr[0])
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > MaxFramePayload {
		return Frame{}, fmt.Errorf("%w: payload length %d exceeds %d", ErrCorruptFrame, n, MaxFramePayload)
	}
	f.Payload = make([]byte, n)
	if _, err := io.ReadFull(r, f.Payload); err != nil {
		return Frame{}, unexpected(err)
	}
	var sum [4]byte
	if _, err := io.ReadFull(r, sum[:]); err != nil {
		return Frame{}, unexpected(err)
	}
	crc := crc32.Update(0, castagnoli, hdr[:1])
	crc = crc32.Update(crc, castagnoli, f.Payload)
	if crc != binary.BigEndian.Uint32(sum[:]) {
		return Frame{}, fmt.Errorf("%w: checksum mismatch", ErrCorruptFrame)
	}
	return f, nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// EncodeFrame returns a frame of type t carrying v as JSON.
func EncodeFrame(t FrameType, v any) (Frame, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return Frame{}, fmt.Errorf("encode frame: %w", err)
	}
	return Frame{Type: t, Payload: b}, nil
}

// DecodeEntries decodes an entries frame, checking that the entries are
// consecutive and well formed.
func DecodeEntries(f Frame) ([]tandem.Change, error) {
	var cs []tandem.Change
	if err := json.Unmarshal(f.Payload, &cs); err != nil {
		return nil, fmt.Errorf("%w: entries: %v", ErrCorruptFrame, err)
	}
	if len(cs) == 0 {
		return nil, fmt.Errorf("%w: empty entries frame", ErrCorruptFrame)
	}
	for i, c := range cs {
		if c.LSN == 0 || (i > 0 && c.LSN != cs[i-1].LSN+1) {
			return nil, fmt.Errorf("%w: entries not consecutive at LSN %d", ErrCorruptFrame, c.LSN)
		}
		if c.Table == "" || len(c.Key) == 0 {
			return nil, fmt.Errorf("%w: entry %d has no table or key", ErrCorruptFrame, c.LSN)
		}
	}
	return cs, nil
}
