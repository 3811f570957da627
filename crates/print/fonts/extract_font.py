#!/usr/bin/env python3
"""Extract face 0 (WenQuanYi Micro Hei, proportional) of Debian's wqy-microhei.ttc into a
standalone TrueType file that frontdesk-print embeds with include_bytes!.

Run once at development time (needs `pip install fonttools` and the Debian package
fonts-wqy-microhei); the resulting wqy-microhei.ttf is committed next to this script.
"""
import sys
from fontTools.ttLib import TTCollection

SRC = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
DST = sys.argv[1] if len(sys.argv) > 1 else "wqy-microhei.ttf"

face = TTCollection(SRC).fonts[0]
# FontForge's timestamp table is of no use to a PDF renderer.
if "FFTM" in face:
    del face["FFTM"]
face.save(DST)
print(DST, face["name"].getDebugName(4), face["maxp"].numGlyphs, "glyphs")
