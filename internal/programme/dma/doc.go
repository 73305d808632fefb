// Package dma is the EU Digital Maturity Assessment for SMEs as data and
// arithmetic: the questionnaire of each version (an embedded JSON file,
// in English and Dutch), the validation of a set of answers, and the
// EU's scoring (each of six dimensions 0–100, the overall score their
// mean, and its band). It reads no database and knows no organisation;
// internal/programme stores assessments and serves them.
package dma
