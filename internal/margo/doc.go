// Package margo holds the documents of Margo's workload management API
// (github.com/margo/specification, workload-management-api-1.0.0.yaml)
// that molen speaks: the device capabilities manifest, the deployment
// status manifest, the application state manifest and its application
// deployments, with the checks the specification's schema makes. The hub
// serves the API to devices that are Margo clients (internal/fleet); a
// molen edge reports its capabilities in this form. It imports nothing of
// molen.
package margo
