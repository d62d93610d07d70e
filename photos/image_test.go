package photos_test

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"runtime"
	"testing"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/photos"
)

func TestReadImageInfo(t *testing.T) {
	for _, tt := range []struct {
		name   string
		data   []byte
		code   string
		ctype  string
		w, h   int
		limits *photos.Limits
	}{
		{name: "png", data: NoisePNG(t, 3, 2, 1), ctype: "image/png", w: 3, h: 2},
		{name: "jpeg", data: JPEGImage(t, 5, 4), ctype: "image/jpeg", w: 5, h: 4},
		{name: "gif", data: GIFImage(t, 2, 7), ctype: "image/gif", w: 2, h: 7},
		{name: "webp lossless", data: WebPImages[0], ctype: "image/webp", w: 1, h: 1},
		{name: "webp lossy", data: WebPImages[1], ctype: "image/webp", w: 1, h: 1},
		{name: "png header only", data: PNGHeader(640, 480), ctype: "image/png", w: 640, h: 480},

		{name: "text", data: []byte("hello, world"), code: tandem.EUNSUPPORTED},
		{name: "empty", data: nil, code: tandem.EUNSUPPORTED},
		{name: "svg", data: []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>`), code: tandem.EUNSUPPORTED},
		{name: "bmp", data: append([]byte("BM"), make([]byte, 60)...), code: tandem.EUNSUPPORTED},
		{name: "pdf", data: []byte("%PDF-1.7\n"), code: tandem.EUNSUPPORTED},
		{name: "png signature only", data: []byte("\x89PNG\r\n\x1a\n"), code: tandem.EINVALID},
		{name: "png zero width", data: PNGHeader(0, 10), code: tandem.EINVALID},
		{name: "jpeg truncated", data: JPEGHeader(100, 100)[:8], code: tandem.EINVALID},

		{name: "png side too long", data: PNGHeader(20_001, 1), code: tandem.ETOOLARGE},
		{name: "png too many pixels", data: PNGHeader(10_000, 10_000), code: tandem.ETOOLARGE},
		{name: "png at the limits", data: PNGHeader(20_000, 2_500), ctype: "image/png", w: 20_000, h: 2_500},
		{name: "png huge", data: PNGHeader(100_000, 100_000), code: tandem.ETOOLARGE},
		{name: "gif huge", data: GIFHeader(65535, 65535), code: tandem.ETOOLARGE},
		{name: "jpeg huge", data: JPEGHeader(65000, 65000), code: tandem.ETOOLARGE},
		{name: "webp huge", data: WebPHeader(16384, 16384), code: tandem.ETOOLARGE},
		{name: "custom limits", data: PNGHeader(101, 100), code: tandem.ETOOLARGE, limits: &photos.Limits{MaxPixels: 10_000, MaxSide: 200}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			limits := photos.DefaultLimits
			if tt.limits != nil {
				limits = *tt.limits
			}
			info, err := photos.ReadImageInfo(tt.data, limits)
			if got := tandem.ErrorCode(err); got != tt.code {
				t.Fatalf("code = %q (%v), want %q", got, err, tt.code)
			}
			if tt.code != "" {
				return
			}
			if info.ContentType != tt.ctype || info.Width != tt.w || info.Height != tt.h {
				t.Fatalf("info = %+v, want %s %d×%d", info, tt.ctype, tt.w, tt.h)
			}
		})
	}
}

func TestThumbSize(t *testing.T) {
	for _, tt := range []struct{ w, h, tw, th int }{
		{4000, 3000, 320, 240},
		{320, 200, 320, 200},
		{100, 50, 100, 50}, // never enlarged
		{1, 1, 1, 1},
		{20000, 1, 320, 1},
		{321, 20000, 20, photos.ThumbMaxHeight},
		{1, 20000, 1, photos.ThumbMaxHeight},
	} {
		if tw, th := photos.ThumbSize(tt.w, tt.h); tw != tt.tw || th != tt.th {
			t.Errorf("ThumbSize(%d, %d) = %d×%d, want %d×%d", tt.w, tt.h, tw, th, tt.tw, tt.th)
		}
	}
}

func TestMakeThumbnail(t *testing.T) {
	// Transparent pixels are laid on white.
	img := image.NewNRGBA(image.Rect(0, 0, 1000, 500))
	thumb, err := photos.MakeThumbnail(img)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := jpeg.Decode(bytes.NewReader(thumb))
	if err != nil {
		t.Fatalf("thumbnail is not a JPEG: %v", err)
	}
	if b := dec.Bounds(); b.Dx() != 320 || b.Dy() != 160 {
		t.Fatalf("thumbnail is %v, want 320×160", b)
	}
	if r, g, b, _ := dec.At(160, 80).RGBA(); r>>8 < 250 || g>>8 < 250 || b>>8 < 250 {
		t.Fatalf("transparent image's thumbnail is %v, want white", color.RGBA64{uint16(r), uint16(g), uint16(b), 0xffff})
	}
}

// TestDecompressionBombRefused uploads a valid 28 KiB PNG of 225 megapixels:
// it is refused from its header, before anything like its 225 MB of pixels
// is allocated.
func TestDecompressionBombRefused(t *testing.T) {
	svc := MustOpenService(t)
	bomb := BombPNG(t, 15_000, 15_000)
	if len(bomb) > 64<<10 {
		t.Fatalf("bomb is %d bytes; want a small file", len(bomb))
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := svc.CreatePhoto(t.Context(), tandem.PhotoUpload{Data: bomb})
	runtime.ReadMemStats(&after)
	if tandem.ErrorCode(err) != tandem.ETOOLARGE {
		t.Fatalf("bomb: %v, want ETOOLARGE", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Fatalf("refusing the bomb allocated %d MiB", alloc>>20)
	}
	mustBeEmpty(t, svc)
}

func FuzzReadImageInfo(f *testing.F) {
	for _, seed := range [][]byte{
		NoisePNG(f, 3, 2, 1), JPEGImage(f, 5, 4), GIFImage(f, 2, 7), WebPImages[0], WebPImages[1],
		PNGHeader(640, 480), GIFHeader(65535, 65535), JPEGHeader(64, 64), WebPHeader(16384, 16384),
		[]byte("hello"),
	} {
		f.Add(seed)
	}
	var gray16 bytes.Buffer
	png.Encode(&gray16, image.NewGray16(image.Rect(0, 0, 17, 9)))
	f.Add(gray16.Bytes())

	// Small limits keep every decode that the fuzzer reaches cheap.
	limits := photos.Limits{MaxPixels: 1 << 18, MaxSide: 2048}
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := photos.ReadImageInfo(data, limits)
		if err != nil {
			switch code := tandem.ErrorCode(err); code {
			case tandem.EUNSUPPORTED, tandem.EINVALID, tandem.ETOOLARGE:
			default:
				t.Fatalf("ReadImageInfo error %v has code %q", err, code)
			}
			return
		}
		switch info.ContentType {
		case "image/jpeg", "image/png", "image/gif", "image/webp":
		default:
			t.Fatalf("accepted content type %q", info.ContentType)
		}
		if info.Width < 1 || info.Height < 1 || info.Width > limits.MaxSide || info.Height > limits.MaxSide || info.Width*info.Height > limits.MaxPixels {
			t.Fatalf("accepted %d×%d beyond the limits", info.Width, info.Height)
		}
		img, err := photos.DecodeImage(data, info)
		if err != nil {
			if tandem.ErrorCode(err) != tandem.EINVALID {
				t.Fatalf("DecodeImage: %v, want EINVALID", err)
			}
			return
		}
		if b := img.Bounds(); b.Dx() != info.Width || b.Dy() != info.Height {
			t.Fatalf("decoded %v, header said %d×%d", b, info.Width, info.Height)
		}
		if _, err := photos.MakeThumbnail(img); err != nil {
			t.Fatalf("MakeThumbnail: %v", err)
		}
	})
}
