// Package phototest makes images for tests.
package phototest

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/png"
	"math/rand/v2"
	"testing"
)

// NoisePNG returns a w×h PNG of random pixels drawn from seed. It is stored
// uncompressed, so its size is about 4·w·h bytes and it encodes fast; each
// seed gives other bytes.
func NoisePNG(tb testing.TB, w, h int, seed uint64) []byte {
	tb.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	rand.NewChaCha8(key).Read(img.Pix)
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.NoCompression}
	if err := enc.Encode(&buf, img); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}
