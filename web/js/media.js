// Camera and microphone: one local stream for the whole visit, with messages a person can act on.

const CONSTRAINTS = {
  audio: { echoCancellation: true, noiseSuppression: true },
  video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 24, max: 30 } },
};

/** Ask for camera and microphone; resolves to {stream} or {stream: null, problem}. */
export async function openCamera() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return { stream: null, problem: "The camera needs a secure page: open this site over https or at localhost. You can still join and chat by text." };
  }
  try {
    return { stream: await navigator.mediaDevices.getUserMedia(CONSTRAINTS), problem: null };
  } catch (err) {
    return { stream: null, problem: cameraProblem(err) };
  }
}

export function cameraProblem(err) {
  const still = " You can still join: you will see and hear your partner and can chat by text, but they will not see or hear you.";
  switch (err && err.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "Camera and microphone access was denied." + still + " To turn them on, allow the camera for this site in your browser's settings, then press Retry camera.";
    case "NotFoundError":
    case "OverconstrainedError":
      return "No camera or microphone was found." + still;
    case "NotReadableError":
    case "AbortError":
      return "Your camera or microphone is busy (another app may be using it)." + still;
    default:
      return `The camera could not start (${(err && err.name) || err}).` + still;
  }
}

/** Enable or disable all tracks of one kind; returns the new enabled state. */
export function setTracksEnabled(stream, kind, enabled) {
  if (!stream) return false;
  const tracks = kind === "audio" ? stream.getAudioTracks() : stream.getVideoTracks();
  tracks.forEach((t) => { t.enabled = enabled; });
  return tracks.length > 0 && enabled;
}
