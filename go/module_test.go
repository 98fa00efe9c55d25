package packr

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHeaderCopy: packr.h, the header cgo compiles this package against, is the
// repository's include/packr.h. A copy of this folder alone (outside the repository) has
// nothing to compare with, and skips.
func TestHeaderCopy(t *testing.T) {
	want, err := os.ReadFile("../include/packr.h")
	if errors.Is(err, fs.ErrNotExist) {
		t.Skip("../include/packr.h is absent: not inside the packr repository")
	}
	mustNoErr(t, err)
	got, err := os.ReadFile("packr.h")
	mustNoErr(t, err)
	if !bytes.Equal(got, want) {
		line := 1 + bytes.Count(want[:commonPrefix(got, want)], []byte("\n"))
		t.Fatalf("go/packr.h differs from include/packr.h (from line %d): run `make header`, "+
			"or copy it: cp include/packr.h go/packr.h", line)
	}
}

func commonPrefix(a, b []byte) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// TestCgoStaysInModule: besides the library, cgo finds everything inside this folder: no
// #cgo directive or #include outside the repository-local build (link_dev.go) reaches
// above it, so a copy of the folder alone builds.
func TestCgoStaysInModule(t *testing.T) {
	var files []string
	for _, pattern := range []string{"*.go", "*.h"} {
		m, err := filepath.Glob(pattern)
		mustNoErr(t, err)
		files = append(files, m...)
	}
	for _, name := range files {
		if name == "link_dev.go" || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := os.Open(name)
		mustNoErr(t, err)
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "//"))
			if (strings.HasPrefix(line, "#cgo") || strings.HasPrefix(line, "#include")) && strings.Contains(line, "..") {
				t.Errorf("%s:%d reaches outside the module: %s", name, n, line)
			}
		}
		mustNoErr(t, sc.Err())
		f.Close()
	}
}
