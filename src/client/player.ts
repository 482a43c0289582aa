// The video: the stream's playback_url when set (HLS through the vendored hls.js, loaded only when
// needed; MP4 natively), a clear placeholder when not. The page's CSP admits media only from the
// playback origin it was rendered with, so a new origin reloads the page.
import { el } from "./dom.ts";

interface HlsInstance {
  loadSource(url: string): void;
  attachMedia(v: HTMLVideoElement): void;
  on(event: string, fn: (e: string, data: { fatal?: boolean; type?: string }) => void): void;
  startLoad(): void;
  recoverMediaError(): void;
  destroy(): void;
}
interface HlsClass {
  new (config: Record<string, unknown>): HlsInstance;
  isSupported(): boolean;
  Events: { ERROR: string };
  ErrorTypes: { NETWORK_ERROR: string; MEDIA_ERROR: string };
}

export class Player {
  private url: string | null | undefined = undefined;
  private video: HTMLVideoElement | null = null;
  private hls: HlsInstance | null = null;
  private hlsLoading: Promise<HlsClass | null> | null = null;

  constructor(private box: HTMLElement, private hlsSrc: string, private mediaOrigin: string | null) {}

  set(url: string | null, status: "live" | "offline"): void {
    if (url === this.url) {
      if (!url) this.placeholder(status);
      return;
    }
    this.url = url;
    this.teardown();
    if (!url) return this.placeholder(status);
    let origin: string | null = null;
    try {
      origin = new URL(url).origin;
    } catch {}
    if (origin !== this.mediaOrigin) {
      // Rendered for another origin (or none): the CSP would refuse this one. Fresh page, fresh policy.
      location.reload();
      return;
    }
    const v = el("video", "video");
    v.controls = true;
    v.playsInline = true;
    v.muted = true; // browsers start only muted video on their own; the viewer unmutes
    v.autoplay = true;
    v.setAttribute("aria-label", "Stream video");
    v.addEventListener("error", () => this.failed("The video could not be played."));
    this.box.textContent = "";
    this.box.append(v);
    this.video = v;
    if (isHls(url)) void this.playHls(v, url);
    else v.src = url;
  }

  private async playHls(v: HTMLVideoElement, url: string): Promise<void> {
    const mse = "MediaSource" in window || "ManagedMediaSource" in window;
    const native = v.canPlayType("application/vnd.apple.mpegurl") !== "";
    if (!mse) {
      if (native) v.src = url;
      else this.failed("This browser can't play this stream.");
      return;
    }
    const Hls = await this.loadHls();
    if (this.video !== v) return;
    if (!Hls || !Hls.isSupported()) {
      if (native) v.src = url;
      else this.failed("The video player could not start.");
      return;
    }
    const hls = new Hls({ enableWorker: false, lowLatencyMode: true });
    this.hls = hls;
    let recoveries = 0;
    hls.on(Hls.Events.ERROR, (_e, data) => {
      if (!data.fatal) return;
      if (recoveries++ < 5 && data.type === Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
      else if (recoveries < 5 && data.type === Hls.ErrorTypes.NETWORK_ERROR) setTimeout(() => this.hls === hls && hls.startLoad(), 2000);
      else this.failed("The video could not be played.");
    });
    hls.loadSource(url);
    hls.attachMedia(v);
  }

  private loadHls(): Promise<HlsClass | null> {
    const w = window as unknown as { Hls?: HlsClass };
    if (w.Hls) return Promise.resolve(w.Hls);
    this.hlsLoading ??= new Promise((resolve) => {
      const s = document.createElement("script");
      s.src = this.hlsSrc;
      s.async = true;
      s.addEventListener("load", () => resolve(w.Hls ?? null));
      s.addEventListener("error", () => resolve(null));
      document.head.append(s);
    });
    return this.hlsLoading;
  }

  private teardown(): void {
    this.hls?.destroy();
    this.hls = null;
    if (this.video) {
      this.video.removeAttribute("src");
      this.video.load();
    }
    this.video = null;
  }

  private placeholder(status: "live" | "offline"): void {
    const text = status === "live" ? "The stream is live, but its video is not available here." : "No video right now. Chat and reactions are open.";
    this.box.textContent = "";
    const p = el("div", "placeholder");
    const icon = el("span", "placeholder-icon", "▶");
    icon.setAttribute("aria-hidden", "true");
    p.append(icon, el("p", "", text));
    this.box.append(p);
  }

  private failed(text: string): void {
    let msg = this.box.querySelector(".video-error");
    if (!msg) {
      msg = el("p", "video-error");
      msg.setAttribute("role", "status");
      this.box.append(msg);
    }
    msg.textContent = text;
  }
}

function isHls(url: string): boolean {
  try {
    return /\.m3u8$/i.test(new URL(url).pathname);
  } catch {
    return false;
  }
}
