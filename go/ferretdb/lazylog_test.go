package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

type countingValue struct{ calls *int }

func (v countingValue) LogValue() slog.Value {
	*v.calls++
	return slog.StringValue("formatted")
}

func TestAttrsOfDisabledRecordsAreNeverFormatted(t *testing.T) {
	var out bytes.Buffer
	calls := 0
	logger := slog.New(lazyAttrs{inner: slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelInfo})})

	logger.With("args", countingValue{&calls}).DebugContext(context.Background(), "statement")

	if calls != 0 || out.Len() != 0 {
		t.Fatalf("debug record formatted %d times, wrote %q", calls, out.String())
	}
}

func TestAttrsAndGroupsOfWrittenRecordsAreKept(t *testing.T) {
	var out bytes.Buffer
	logger := slog.New(lazyAttrs{inner: slog.NewTextHandler(&out, nil)})

	base := logger.With("name", "sqlite")
	base.With("rows", 1).Info("first")
	base.With("rows", 2).WithGroup("g").Info("second", "k", "v")

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %q", out.String())
	}
	for i, want := range []string{"name=sqlite rows=1", "name=sqlite rows=2 g.k=v"} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d = %q, want it to contain %q", i, lines[i], want)
		}
	}
}
