package main

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// configKeys lists every key a config file may hold, as
// docs/configuration.md writes it: "http.listen", "sources[].url",
// "sessions[].points[].label". Squashed structs give their keys to the
// section they are squashed into.
func configKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
		if name == "-" {
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if opts == "squash" {
			keys = append(keys, configKeys(ft, prefix)...)
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		key := prefix + name
		keys = append(keys, key)
		switch {
		case ft.Kind() == reflect.Struct && ft.PkgPath() == reflect.TypeOf(Config{}).PkgPath():
			keys = append(keys, configKeys(ft, key+".")...)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			keys = append(keys, configKeys(ft.Elem(), key+"[].")...)
		}
	}
	return keys
}

// TestConfigKeysDocumented: every key of the config structs has its row
// in docs/configuration.md, written `key`.
func TestConfigKeysDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	keys := configKeys(reflect.TypeOf(Config{}), "")
	if len(keys) < 40 {
		t.Fatalf("found only %d keys: %v", len(keys), keys)
	}
	for _, k := range keys {
		if !strings.Contains(string(doc), "`"+k+"`") {
			t.Errorf("config key %s is not in docs/configuration.md (write it as `%s`)", k, k)
		}
	}
}
