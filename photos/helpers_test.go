package photos_test

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"path/filepath"
	"testing"

	"github.com/tandemhq/tandem"
	blobfs "github.com/tandemhq/tandem/blob/fs"
	"github.com/tandemhq/tandem/internal/phototest"
	"github.com/tandemhq/tandem/photos"
	"github.com/tandemhq/tandem/store/sqlite"
)

// MustOpenStore returns a migrated store in dir: the writer, or a follower.
func MustOpenStore(tb testing.TB, dir string, writer bool) *sqlite.Store {
	tb.Helper()
	st := sqlite.New(filepath.Join(dir, "region.db"))
	st.Synchronous = "NORMAL"
	if err := st.Open(); err != nil {
		tb.Fatal(err)
	}
	if err := photos.NewService(st).Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	if err := st.SetRole(context.Background(), tandem.Role{Writer: writer, Epoch: 1}); err != nil {
		tb.Fatal(err)
	}
	return st
}

// MustOpenBlobs returns a blob store in dir/blobs.
func MustOpenBlobs(tb testing.TB, dir string) *blobfs.Store {
	tb.Helper()
	b := blobfs.New(filepath.Join(dir, "blobs"))
	if err := b.Init(); err != nil {
		tb.Fatal(err)
	}
	return b
}

// MustOpenService returns a photo service over a new writer store and blob
// store.
func MustOpenService(tb testing.TB) *photos.Service {
	tb.Helper()
	dir := tb.TempDir()
	st := MustOpenStore(tb, dir, true)
	tb.Cleanup(func() { st.Close() })
	svc := photos.NewService(st)
	svc.Blobs = MustOpenBlobs(tb, dir)
	return svc
}

// NoisePNG returns a w×h PNG of random pixels; see phototest.NoisePNG.
var NoisePNG = phototest.NoisePNG

// JPEGImage returns a w×h JPEG gradient.
func JPEGImage(tb testing.TB, w, h int) []byte {
	tb.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 128, 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// GIFImage returns a w×h one-colour GIF.
func GIFImage(tb testing.TB, w, h int) []byte {
	tb.Helper()
	img := image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{color.White, color.Black})
	var buf bytes.Buffer
	if err := gif.Encode(&buf, img, nil); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// WebPImages are 1×1 WebP images, lossless and lossy (Go has no WebP
// encoder).
var WebPImages = [][]byte{
	mustBase64("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA=="),
	mustBase64("UklGRiIAAABXRUJQVlA4IBYAAAAwAQCdASoBAAEADsD+JaQAA3AAAAAA"),
}

func mustBase64(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// pngChunk returns a PNG chunk with its CRC.
func pngChunk(typ string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, uint32(len(data)))
	b.WriteString(typ)
	b.Write(data)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	return b.Bytes()
}

// PNGHeader returns the start of a 1-bit greyscale w×h PNG: signature and
// IHDR, nothing else.
func PNGHeader(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 1, 0, 0, 0, 0) // depth 1, greyscale, deflate, no filter, no interlace
	return append([]byte("\x89PNG\r\n\x1a\n"), pngChunk("IHDR", ihdr)...)
}

// BombPNG returns a complete, valid 1-bit w×h PNG of zeros: a few tens of
// KiB that decode to w·h pixels (a decompression bomb).
func BombPNG(tb testing.TB, w, h uint32) []byte {
	tb.Helper()
	var idat bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&idat, zlib.BestCompression)
	row := make([]byte, 1+(w+7)/8) // filter byte, then the row's bits
	for range h {
		zw.Write(row)
	}
	zw.Close()
	out := PNGHeader(w, h)
	out = append(out, pngChunk("IDAT", idat.Bytes())...)
	return append(out, pngChunk("IEND", nil)...)
}

// GIFHeader returns a GIF header claiming a w×h canvas.
func GIFHeader(w, h uint16) []byte {
	b := []byte("GIF89a")
	b = binary.LittleEndian.AppendUint16(b, w)
	b = binary.LittleEndian.AppendUint16(b, h)
	return append(b, 0, 0, 0, ';')
}

// JPEGHeader returns a JPEG start claiming a w×h baseline frame: SOI, SOF0
// and the start of a scan, with no tables and no pixels.
func JPEGHeader(w, h uint16) []byte {
	b := []byte{0xff, 0xd8, 0xff, 0xc0, 0x00, 0x11, 8}
	b = binary.BigEndian.AppendUint16(b, h)
	b = binary.BigEndian.AppendUint16(b, w)
	b = append(b, 3, 1, 0x22, 0, 2, 0x11, 0, 3, 0x11, 0)
	return append(b, 0xff, 0xda, 0x00, 0x0c, 3, 1, 0, 2, 0x11, 3, 0x11, 0, 0x3f, 0)
}

// WebPHeader returns a WebP VP8X start claiming a w×h canvas.
func WebPHeader(w, h uint32) []byte {
	vp8x := []byte{0, 0, 0, 0}
	vp8x = append(vp8x, byte(w-1), byte((w-1)>>8), byte((w-1)>>16))
	vp8x = append(vp8x, byte(h-1), byte((h-1)>>8), byte((h-1)>>16))
	b := []byte("RIFF")
	b = binary.LittleEndian.AppendUint32(b, uint32(4+8+len(vp8x)))
	b = append(b, "WEBPVP8X"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(vp8x)))
	return append(b, vp8x...)
}
