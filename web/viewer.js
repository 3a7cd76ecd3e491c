// The page's 3D viewer: one GLB at a time (glTF: metres, +Y up), orbit / zoom / pan with the
// mouse, framed to the model. three.js is served by `cadcrafter serve` from
// web/node_modules/three (the import map in index.html): no internet needed.
// Renders on demand (after a load, a resize or a camera move), not in a loop.
import * as THREE from 'three';
import { OrbitControls } from 'three/addons/controls/OrbitControls.js';
import { GLTFLoader } from 'three/addons/loaders/GLTFLoader.js';

export const BACKGROUND = 0xf3f4f6;

export function createViewer(container) {
  const canvas = document.createElement('canvas');
  canvas.id = 'viewer-canvas';
  container.appendChild(canvas);
  // preserveDrawingBuffer: the canvas can be read back (the browser test counts model pixels).
  const renderer = new THREE.WebGLRenderer({ canvas, antialias: true, preserveDrawingBuffer: true });
  renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
  const scene = new THREE.Scene();
  scene.background = new THREE.Color(BACKGROUND);
  scene.add(new THREE.HemisphereLight(0xffffff, 0x8a8f99, 1.6));
  const sun = new THREE.DirectionalLight(0xffffff, 1.8);
  scene.add(sun);
  const camera = new THREE.PerspectiveCamera(35, 1, 0.001, 100);
  camera.position.set(1, 1, 1);
  const controls = new OrbitControls(camera, canvas);
  const material = new THREE.MeshStandardMaterial({ color: 0x6f8fb8, metalness: 0.15, roughness: 0.55, side: THREE.DoubleSide });
  const edgeMaterial = new THREE.LineBasicMaterial({ color: 0x2b3a4f });
  let model = null;
  let loadId = 0;

  function render() {
    sun.position.copy(camera.position).add(new THREE.Vector3(0.3, 0.6, 0.2).multiplyScalar(camera.position.length()));
    renderer.render(scene, camera);
  }
  function resize() {
    const w = Math.max(1, container.clientWidth), h = Math.max(1, container.clientHeight);
    renderer.setSize(w, h, false);
    camera.aspect = w / h;
    camera.updateProjectionMatrix();
    render();
  }
  controls.addEventListener('change', render);
  new ResizeObserver(resize).observe(container);
  resize();

  function clear() {
    if (!model) return;
    scene.remove(model);
    model.traverse((o) => { if (o.geometry) o.geometry.dispose(); });
    model = null;
  }

  // Loads url (a GLB) in place of the current model; resolves with {triangles, size} (metres).
  async function show(url) {
    const id = ++loadId;
    const gltf = await new GLTFLoader().loadAsync(url);
    if (id !== loadId) return null;  // a newer show() won
    clear();
    model = gltf.scene;
    let triangles = 0;
    const edges = [];
    model.traverse((o) => {
      if (!o.isMesh) return;
      o.material = material;
      const g = o.geometry;
      triangles += (g.index ? g.index.count : g.attributes.position.count) / 3;
      edges.push([o, new THREE.LineSegments(new THREE.EdgesGeometry(g, 30), edgeMaterial)]);
    });
    for (const [mesh, lines] of edges) mesh.add(lines);
    scene.add(model);
    const box = new THREE.Box3().setFromObject(model);
    const size = box.getSize(new THREE.Vector3());
    const center = box.getCenter(new THREE.Vector3());
    const radius = Math.max(size.length() / 2, 1e-6);
    const distance = radius / Math.sin(THREE.MathUtils.degToRad(camera.fov / 2)) * 1.05;
    camera.near = distance / 100;
    camera.far = distance * 100;
    camera.position.copy(center).add(new THREE.Vector3(1, 0.8, 1.2).normalize().multiplyScalar(distance));
    camera.updateProjectionMatrix();
    controls.target.copy(center);
    controls.minDistance = radius * 0.2;
    controls.maxDistance = distance * 20;
    controls.update();
    render();
    return { triangles, size: [size.x, size.y, size.z] };
  }

  function showNothing() {
    ++loadId;
    clear();
    render();
  }

  // Share of canvas pixels that are not the background (what the browser test checks).
  function coverage() {
    const w = canvas.width, h = canvas.height;
    const probe = document.createElement('canvas');
    probe.width = w; probe.height = h;
    const ctx = probe.getContext('2d');
    ctx.drawImage(canvas, 0, 0);
    const px = ctx.getImageData(0, 0, w, h).data;
    const [br, bgg, bb] = [(BACKGROUND >> 16) & 255, (BACKGROUND >> 8) & 255, BACKGROUND & 255];
    let n = 0;
    for (let i = 0; i < px.length; i += 4)
      if (Math.abs(px[i] - br) + Math.abs(px[i + 1] - bgg) + Math.abs(px[i + 2] - bb) > 30) ++n;
    return n / (w * h);
  }

  return { show, showNothing, coverage, canvas };
}
