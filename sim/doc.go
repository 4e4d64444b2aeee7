// Package sim runs villagesync in one process: a real server (service,
// SQLite store, Echo router) and real devices (client-sdk, each with its own
// SQLite file) talking over simulated links that drop, duplicate, reorder
// and tear requests, all driven from one seed so a failing run replays.
//
// It is test and demo infrastructure: it wires server and client-sdk but
// owns no protocol or domain logic of its own.
package sim
