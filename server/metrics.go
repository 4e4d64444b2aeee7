package server

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Outcomes of pushed changes, the values of the "outcome" label of
// villagesync_changes_total.
const (
	OutcomeAccepted  = "accepted"
	OutcomeDuplicate = "duplicate"
	OutcomeHeld      = "held"
	OutcomeConflict  = "conflict"
	OutcomeRefused   = "refused"
	// OutcomeQuarantined counts changes a revoked device signed after its
	// revocation point, held for the county's review instead of applied.
	OutcomeQuarantined = "quarantined"
)

// resultOK is the "result" label of a successful request.
const resultOK = "ok"

// metrics are the service's Prometheus metrics, in a registry of its own.
type metrics struct {
	reg           *prometheus.Registry
	syncRequests  *prometheus.CounterVec
	changes       *prometheus.CounterVec
	syncDuration  prometheus.Histogram
	bytes         *prometheus.CounterVec
	equivocations prometheus.Counter
	tokensIssued  prometheus.Counter
	enrollments   *prometheus.CounterVec
	openConflicts prometheus.Gauge
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		syncRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "villagesync_sync_requests_total",
			Help: "Sync requests by result: ok or the error code.",
		}, []string{"result"}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "villagesync_changes_total",
			Help: "Pushed and relayed changes by outcome: accepted, duplicate, held, conflict, refused, quarantined (a revoked device's, held for review).",
		}, []string{"outcome"}),
		syncDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "villagesync_sync_duration_seconds",
			Help:    "Time the service spent on one sync request.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "villagesync_bytes_total",
			Help: "HTTP body bytes on the wire (after compression), by direction: in or out.",
		}, []string{"direction"}),
		equivocations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "villagesync_equivocations_total",
			Help: "Pushes refused because a device signed two different changes for one seq.",
		}),
		tokensIssued: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "villagesync_tokens_issued_total",
			Help: "Access tokens issued to devices and by MintToken.",
		}),
		enrollments: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "villagesync_enrollments_total",
			Help: "Enrollment attempts by result: ok or the error code.",
		}, []string{"result"}),
		openConflicts: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "villagesync_open_conflicts",
			Help: "Conflicts awaiting the county's resolution, as of the last review or report request.",
		}),
	}
	m.reg.MustRegister(
		m.syncRequests, m.changes, m.syncDuration, m.bytes,
		m.equivocations, m.tokensIssued, m.enrollments, m.openConflicts,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	for _, o := range []string{OutcomeAccepted, OutcomeDuplicate, OutcomeHeld, OutcomeConflict, OutcomeRefused, OutcomeQuarantined} {
		m.changes.WithLabelValues(o)
	}
	m.bytes.WithLabelValues("in")
	m.bytes.WithLabelValues("out")
	return m
}

// Registry returns the registry holding the service's metrics, for /metrics.
func (s *Service) Registry() *prometheus.Registry { return s.metrics.reg }

// CountBytes adds HTTP body bytes as sent on the wire (compressed) to
// villagesync_bytes_total. The HTTP adapter calls it once per request.
func (s *Service) CountBytes(in, out int64) {
	if in > 0 {
		s.metrics.bytes.WithLabelValues("in").Add(float64(in))
	}
	if out > 0 {
		s.metrics.bytes.WithLabelValues("out").Add(float64(out))
	}
}
