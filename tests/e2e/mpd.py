"""Enumerates the segment URLs a DASH player would request from an MPD:
BaseURL chains resolved per RFC 3986 (urljoin), SegmentTemplate with
$Number$/$Time$/SegmentTimeline, SegmentList and SegmentBase. Enough of a
player to walk the project's test streams; independent of the C++ rewriter."""
import re
import urllib.parse
import xml.etree.ElementTree as ET

NS = "{urn:mpeg:dash:schema:mpd:2011}"


def _base(elem, parent_base):
    b = elem.find(NS + "BaseURL")
    return urllib.parse.urljoin(parent_base, b.text.strip()) if b is not None and b.text else parent_base


def _fill(template, rep_id, bandwidth, number=None, time=None):
    def sub(m):
        name, fmt = m.group(1), m.group(2)
        if name == "":
            return "$"
        value = {"RepresentationID": rep_id, "Bandwidth": bandwidth, "Number": number, "Time": time}[name]
        return (fmt % int(value)) if fmt else str(value)
    return re.sub(r"\$(RepresentationID|Bandwidth|Number|Time|)(%0\d+d)?\$", sub, template)


def _duration_seconds(text):
    m = re.match(r"PT(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?", text or "")
    if not m:
        return 0.0
    h, mi, s = (float(x) if x else 0.0 for x in m.groups())
    return h * 3600 + mi * 60 + s


def segment_urls(mpd_bytes, mpd_url):
    """[(representation id, kind, absolute url)] in document order."""
    root = ET.fromstring(mpd_bytes)
    out = []
    mpd_base = _base(root, mpd_url)
    total = _duration_seconds(root.get("mediaPresentationDuration"))
    for period in root.findall(NS + "Period"):
        p_base = _base(period, mpd_base)
        p_dur = _duration_seconds(period.get("duration")) or total
        for aset in period.findall(NS + "AdaptationSet"):
            a_base = _base(aset, p_base)
            a_tmpl = aset.find(NS + "SegmentTemplate")
            for rep in aset.findall(NS + "Representation"):
                r_base = _base(rep, a_base)
                rid, bw = rep.get("id"), rep.get("bandwidth")
                tmpl = rep.find(NS + "SegmentTemplate")
                tmpl = tmpl if tmpl is not None else a_tmpl
                slist = rep.find(NS + "SegmentList")
                if tmpl is not None:
                    if tmpl.get("initialization"):
                        out.append((rid, "init", urllib.parse.urljoin(r_base, _fill(tmpl.get("initialization"), rid, bw))))
                    number = int(tmpl.get("startNumber", "1"))
                    timeline = tmpl.find(NS + "SegmentTimeline")
                    if timeline is not None:
                        t = 0
                        for s in timeline.findall(NS + "S"):
                            t = int(s.get("t", t))
                            for _ in range(int(s.get("r", "0")) + 1):
                                out.append((rid, "media", urllib.parse.urljoin(r_base, _fill(tmpl.get("media"), rid, bw, number, t))))
                                t += int(s.get("d"))
                                number += 1
                    else:
                        timescale = int(tmpl.get("timescale", "1"))
                        seg = int(tmpl.get("duration")) / timescale
                        count = max(1, int(-(-p_dur // seg)))
                        for i in range(count):
                            out.append((rid, "media", urllib.parse.urljoin(r_base, _fill(tmpl.get("media"), rid, bw, number + i))))
                elif slist is not None:
                    init = slist.find(NS + "Initialization")
                    if init is not None and init.get("sourceURL"):
                        out.append((rid, "init", urllib.parse.urljoin(r_base, init.get("sourceURL"))))
                    for su in slist.findall(NS + "SegmentURL"):
                        out.append((rid, "media", urllib.parse.urljoin(r_base, su.get("media") or "")))
                else:
                    out.append((rid, "file", r_base))
    return out
