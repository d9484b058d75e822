import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Writes a one-layer OCI image layout that skopeo can copy to a registry (no Docker engine runs here).
 * Returns the `oci:DIR:TAG` reference.
 */
export function writeOciImage(dir: string, tag = 'v1'): string {
  rmSync(dir, { recursive: true, force: true }); // written afresh: a test may push the same image again
  const blobs = join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const addBlob = (content: Buffer): { digest: string; size: number } => {
    const hex = createHash('sha256').update(content).digest('hex');
    writeFileSync(join(blobs, hex), content);
    return { digest: `sha256:${hex}`, size: content.length };
  };

  const rootfs = join(dir, 'rootfs');
  mkdirSync(rootfs);
  writeFileSync(join(rootfs, 'hello.txt'), 'hello from credrelay\n');
  const layerPath = join(dir, 'layer.tar');
  execFileSync('tar', ['-cf', layerPath, '-C', rootfs, 'hello.txt']);
  const layerTar = readFileSync(layerPath);
  const diffId = `sha256:${createHash('sha256').update(layerTar).digest('hex')}`;
  const layer = addBlob(layerTar);

  const config = addBlob(
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        rootfs: { type: 'layers', diff_ids: [diffId] },
        config: {},
      }),
    ),
  );
  const manifest = addBlob(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
      }),
    ),
  );
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifest,
          annotations: { 'org.opencontainers.image.ref.name': tag },
        },
      ],
    }),
  );
  return `oci:${dir}:${tag}`;
}
