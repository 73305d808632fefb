// Package factory is the domain of what people add to their machines'
// events on the shop floor: the organisation's list of downtime reasons
// (defaults until it sets its own), the reason a person assigns to a
// downtime (written on the event itself, through the store, so that
// events, exports and the downtime Pareto show it), and the
// acknowledgements and comments of alarms and anomalies (its metadata
// tables). Every change is recorded in the audit log.
package factory
