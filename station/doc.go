// Package station is the laptop app of station operators and township
// supervisors: a local web UI (villagesync station ui) over the device
// that package client (client-sdk) opens from its data directory. It is
// server-rendered html/template with an embedded stylesheet and no
// script, in Simplified Chinese by default (English with ?lang=en), and
// works with no internet.
//
// # What it owns
//
//   - The pages [New] serves: the home page with the device's sync state
//     (pending changes, the last signed receipt, the clock offset, open
//     conflicts) and the 同步 button, which runs one Device.Sync of client-sdk
//     and says what moved, or why not in plain words; for a station, the
//     village's election from the synced reference data with the forms of
//     election day — attendance, each ballot as it is read out (唱票) with
//     the running tally, and the tally sheet prefilled from those ballots;
//     for a supervisor, supervision visits, problems and their
//     rectification, and the villages of the township with what the
//     device holds about each; for every device, its records with their
//     sync and conflict state, the open conflicts (read only: the county
//     resolves them), and bundles exported to and imported from a file
//     for a USB stick.
//   - Showing the operator at once what the device returns at capture:
//     the election rules a record breaks (the record is stored all the
//     same), or why it was refused, with the form as it was typed.
//   - The browser's side of a local app: the Host check, the CSRF token,
//     the refusal of cross-origin forms and the security headers.
//
// # Security without a login
//
// The UI has no login: the laptop is the operator's, and the device's key
// already sits in its data directory, readable by whoever uses the
// laptop's account. What the UI must stop is another web site, open in the
// same browser, acting on the operator's device. So:
//
//   - It listens on a loopback address; the command refuses any other
//     unless --allow-remote is given, since anyone who can reach the port
//     can then capture records as this device.
//   - Every request's Host header must name the UI's port and localhost or
//     an IP address (loopback only, unless AllowRemote): a site whose name
//     an attacker re-points at 127.0.0.1 (DNS rebinding) is refused before
//     any page is served.
//   - Every POST must carry this process's CSRF token (random, made at
//     start, embedded in every form) and pass net/http's
//     CrossOriginProtection (Sec-Fetch-Site and Origin).
//   - Every page has a Content-Security-Policy without script or inline
//     style, is never framed, never cached and sends no referrer; every
//     value is escaped by html/template.
//
// # What it must not do
//
// It decides nothing about records: validation, scope, signing and
// conflicts are the device's (Device.Capture of client-sdk), so a form can
// never write what `villagesync station put` could not. It imports
// neither the server nor its web pages; it speaks to the server only
// through the device's Sync. It never logs record bodies, CSRF tokens or
// file contents.
package station
