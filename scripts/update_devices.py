"""Regenerate src/pagecast/models/devices.json from the installed Playwright's device list.

Playwright keeps its device descriptors inside the driver bundle; a snapshot lets request
validation know every device name without starting a browser. Run after upgrading Playwright.
"""

import asyncio
import json
from pathlib import Path

from playwright.async_api import async_playwright

TARGET = Path(__file__).resolve().parent.parent / "src/pagecast/models/devices.json"


async def main() -> None:
    async with async_playwright() as p:
        devices = {
            name: {
                "viewport": d["viewport"],
                "userAgent": d["user_agent"],
                "deviceScaleFactor": d["device_scale_factor"],
                "isMobile": d["is_mobile"],
                "hasTouch": d["has_touch"],
            }
            for name, d in sorted(p.devices.items())
            if d.get("default_browser_type") == "chromium" or "Desktop" not in name
        }
    TARGET.write_text(json.dumps(devices, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(devices)} devices to {TARGET}")


if __name__ == "__main__":
    asyncio.run(main())
