// piff-mode=convert turns PIFF-encrypted media into CENC on the way through.
// CENC players (dash.js, Shaka) look for the mp4protection descriptor and its
// cenc:default_KID; PIFF-era packagers often signal protection only through
// a PlayReady ContentProtection. This module adds the missing descriptor.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <xercesc/dom/DOM.hpp>

namespace dashpiff::mpd {

// For every AdaptationSet and Representation under `top` (itself included)
// whose own ContentProtection elements name PlayReady but not
// urn:mpeg:dash:mp4protection:2011, and whose KID can be found, adds
// <ContentProtection schemeIdUri="urn:mpeg:dash:mp4protection:2011"
// value="cenc" cenc:default_KID="..."/> before the first ContentProtection.
// Declares the cenc namespace on `top` when it is not in scope. Returns the
// number of descriptors added.
unsigned add_cenc_descriptors(xercesc::DOMElement* top, const XMLCh* dash_ns);

// Building blocks, exposed for tests. KIDs come back in UUID form,
// lower-case hex, 8-4-4-4-12.
std::optional<std::string> decode_base64(std::string_view text);
std::optional<std::string> uuid_from_playready_kid(std::string_view bytes16);  // little-endian GUID layout
std::optional<std::string> normalize_uuid(std::string_view text);             // "ABCD..." or with dashes
// A PlayReady Object (the payload of mspr:pro and of a PlayReady pssh):
// the one KID its WRMHEADER names, nullopt when none or several.
std::optional<std::string> kid_from_playready_object(std::string_view pro);
// A whole 'pssh' box (cenc:pssh): the single KID of a version 1 box, else
// the KID of the PlayReady Object it carries.
std::optional<std::string> kid_from_pssh_box(std::string_view box);

}  // namespace dashpiff::mpd
