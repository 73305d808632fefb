// Package web is the hub's browser application, embedded in the binary:
// ES modules written with Preact and htm (no JSX, so no build step), charts
// by uPlot, all served from the hub itself with no external resources
// (factories' hubs often have no internet access). ADR 0006 says why.
//
// static/app/ holds the application's own modules: core.js (rendering,
// the text catalogue, the API client with session cookie and CSRF header
// or bearer token, live data, hash routing, the registry of areas),
// main.js (the shell: sign-in, navigation, organisation, language,
// theme), i18n.js (every string in English and Dutch) and one module per
// area (factory.js). static/vendor/ holds the pinned libraries, copied
// from web/node_modules by web/vendor.sh; CI checks they are unchanged.
//
// Handler serves the page at "/" and its assets under "/static/"; it answers
// 404 for anything else, including everything under "/api/", so mounting it
// at "/" can never shadow the API.
package web
