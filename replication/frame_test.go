package replication

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/tandemhq/tandem"
)

func TestFrameRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	cs := []tandem.Change{
		{LSN: 7, Epoch: 1, CommitTime: time.Unix(1, 0).UTC(), Table: "t", Key: json.RawMessage(`{"id":1}`), Op: tandem.OpInsert, After: json.RawMessage(`{"id":1}`)},
		{LSN: 8, Epoch: 1, CommitTime: time.Unix(2, 0).UTC(), Table: "t", Key: json.RawMessage(`{"id":1}`), Op: tandem.OpDelete, Before: json.RawMessage(`{"id":1}`)},
	}
	ef, err := EncodeFrame(FrameEntries, cs)
	if err != nil {
		t.Fatal(err)
	}
	hf, _ := EncodeFrame(FrameHeartbeat, Heartbeat{Head: tandem.Position{LSN: 8, Epoch: 1}})
	for _, f := range []Frame{ef, hf} {
		if err := WriteFrame(&buf, f); err != nil {
			t.Fatal(err)
		}
	}
	r := bufio.NewReader(&buf)
	got, err := ReadFrame(r)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := DecodeEntries(got)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[1].LSN != 8 || entries[1].Op != tandem.OpDelete {
		t.Fatalf("entries = %+v", entries)
	}
	got, err = ReadFrame(r)
	if err != nil || got.Type != FrameHeartbeat {
		t.Fatalf("second frame = %c, %v", got.Type, err)
	}
	if _, err := ReadFrame(r); err != io.EOF {
		t.Fatalf("end of stream = %v, want io.EOF", err)
	}
}

func TestFrameCorruption(t *testing.T) {
	var buf bytes.Buffer
	f, _ := EncodeFrame(FrameHeartbeat, Heartbeat{})
	if err := WriteFrame(&buf, f); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	for i := range good {
		bad := bytes.Clone(good)
		bad[i] ^= 0x10
		_, err := ReadFrame(bufio.NewReader(bytes.NewReader(bad)))
		if err == nil {
			t.Fatalf("flipping byte %d went unnoticed", i)
		}
	}
	for n := 1; n < len(good); n++ {
		_, err := ReadFrame(bufio.NewReader(bytes.NewReader(good[:n])))
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("truncated to %d bytes: %v, want io.ErrUnexpectedEOF", n, err)
		}
	}
}

func TestDecodeEntriesRejects(t *testing.T) {
	for _, payload := range []string{`[]`, `{}`, `[{"lsn":0,"table":"t","key":{}}]`, `[{"lsn":1,"table":"t","key":{}},{"lsn":3,"table":"t","key":{}}]`, `[{"lsn":1,"key":{}}]`} {
		if _, err := DecodeEntries(Frame{Type: FrameEntries, Payload: []byte(payload)}); !errors.Is(err, ErrCorruptFrame) {
			t.Errorf("DecodeEntries(%s) = %v, want ErrCorruptFrame", payload, err)
		}
	}
}

func FuzzReadFrame(f *testing.F) {
	var buf bytes.Buffer
	e, _ := EncodeFrame(FrameEntries, []tandem.Change{{LSN: 1, Table: "t", Key: json.RawMessage(`{"id":1}`), Op: tandem.OpInsert}})
	WriteFrame(&buf, e)
	f.Add(buf.Bytes())
	f.Add([]byte{'H', 0, 0, 0, 2, '{', '}', 0, 0, 0, 0})
	f.Add([]byte{'E', 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReader(bytes.NewReader(data))
		for {
			fr, err := ReadFrame(r)
			if err != nil {
				return
			}
			if len(fr.Payload) > MaxFramePayload {
				t.Fatalf("payload of %d bytes accepted", len(fr.Payload))
			}
			var again bytes.Buffer
			if err := WriteFrame(&again, fr); err != nil {
				t.Fatal(err)
			}
			if fr.Type == FrameEntries {
				if cs, err := DecodeEntries(fr); err == nil && len(cs) == 0 {
					t.Fatal("DecodeEntries accepted an empty frame")
				}
			}
		}
	})
}
