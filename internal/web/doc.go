// Package web is the hub's browser UI: a single page of plain HTML, CSS and
// JavaScript embedded in the binary, with no build step and no external
// resources (factories' hubs often have no internet access).
//
// The page discovers machines from the data itself: every series whose last
// segment is "state" makes its asset path (the series path minus the tag) a
// machine, and the other tags under that asset belong to it. It polls the
// hub's query API every two seconds with the bearer token the operator gives
// it (from the URL fragment #token=…, else localStorage, else a form).
//
// Handler serves the page at "/" and its assets under "/static/"; it answers
// 404 for anything else, including everything under "/api/", so mounting it
// at "/" can never shadow the API.
package web
