// Package dict embeds the Diameter dictionary XML files of the project (its
// vendor AVPs and any 3GPP AVPs that go-diameter's built-in dictionaries lack)
// and loads them into a go-diameter dictionary parser at start.
//
// go-diameter decodes an AVP by looking its code up in the dictionary: an AVP
// missing there is decoded as an opaque Unknown value, and a command missing
// there cannot be read at all. Every *.xml file dropped into this directory is
// embedded at build time and loaded by Load, in lexical file order, so adding
// AVPs (S6a and S13 from TS 29.272, SWx from TS 29.273, the rcmhss vendor
// space) is a matter of adding one XML file in go-diameter's dictionary
// format.
package dict
