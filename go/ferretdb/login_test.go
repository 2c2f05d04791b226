package main

import "testing"

func TestRefusePassword(t *testing.T) {
	for raw, wantErr := range map[string]bool{
		"postgres://127.0.0.1:5432/ferretdb":                   false,
		"postgres://ferretdb@127.0.0.1:5432/ferretdb":          false,
		"postgres://ferretdb:secret@127.0.0.1:5432/ferretdb":   true,
		"postgres://ferretdb:@127.0.0.1:5432/ferretdb":         true,
		"postgres://127.0.0.1:5432/ferretdb?password=secret":   true,
		"postgres://127.0.0.1:5432/ferretdb?sslmode=disable":   false,
		"postgres://ferretdb:s%40cret@127.0.0.1:5432/ferretdb": true,
	} {
		if err := refusePassword(raw); (err != nil) != wantErr {
			t.Errorf("refusePassword(%q) = %v, want error: %v", raw, err, wantErr)
		}
	}
}
