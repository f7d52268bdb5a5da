package steps

import (
	"testing"
)

func TestSetTarget(t *testing.T) {
	a := newLaunch().(*Launch)
	a.Port = 8000
	b := newLaunch().(*Launch)
	b.Host = "10.0.0.2"
	b.Port = 9000
	noPort := newLaunch().(*Launch)
	launches := map[string]Launcher{"a": a, "b": b, "np": noPort}

	w := newWaitReady().(*WaitReady)
	w.SetTarget(launches, "b")
	if w.Target != "http://10.0.0.2:9000/health" {
		t.Errorf("wait-ready last: %q", w.Target)
	}
	w.Server = "a"
	w.Path = "/v1/models"
	w.SetTarget(launches, "b")
	if w.Target != "http://127.0.0.1:8000/v1/models" {
		t.Errorf("wait-ready named: %q", w.Target)
	}
	w.URL = "http://elsewhere:1/ready"
	w.SetTarget(launches, "b")
	if w.Target != w.URL {
		t.Errorf("wait-ready url: %q", w.Target)
	}
	w = newWaitReady().(*WaitReady)
	w.SetTarget(launches, "np")
	if w.Target != "" {
		t.Errorf("wait-ready without port: %q", w.Target)
	}
	w.SetTarget(nil, "")
	if w.Target != "" {
		t.Errorf("wait-ready without launches: %q", w.Target)
	}

	l := newLoad().(*Load)
	l.SetTarget(launches, "a")
	if l.Target != "http://127.0.0.1:8000/v1/completions" {
		t.Errorf("load: %q", l.Target)
	}
	l.API = "chat"
	l.Server = "b"
	l.SetTarget(launches, "a")
	if l.Target != "http://10.0.0.2:9000/v1/chat/completions" {
		t.Errorf("load chat: %q", l.Target)
	}
	l.URL = "http://api.example:8080/"
	l.SetTarget(launches, "a")
	if l.Target != "http://api.example:8080/v1/chat/completions" {
		t.Errorf("load url: %q", l.Target)
	}

	m := newMeasure().(*Measure)
	m.SetTarget(launches, "a")
	if m.Target != "" {
		t.Errorf("measure reading no endpoint has target %q", m.Target)
	}
	m.Metrics = "/metrics"
	m.SetTarget(launches, "a")
	if m.Target != "http://127.0.0.1:8000" {
		t.Errorf("measure: %q", m.Target)
	}

	var _ Targeter = w
	var _ Targeter = l
	var _ Targeter = m
}

// An IPv6 host is bracketed in the target, "http://[::1]:8000/health", the
// form Launch.Run builds with net.JoinHostPort.
func TestSetTargetBracketsAnIPv6Host(t *testing.T) {
	v6 := newLaunch().(*Launch)
	v6.Host = "::1"
	v6.Port = 8000
	w := newWaitReady().(*WaitReady)
	w.SetTarget(map[string]Launcher{"s": v6}, "s")
	if w.Target != "http://[::1]:8000/health" {
		t.Errorf("target %q, want http://[::1]:8000/health", w.Target)
	}
}
