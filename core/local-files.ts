// Whether a path exists on this host's disk (source files, local copies): a small helper for
// code that reads local files; what the product stores goes through storage/.
import { stat } from 'node:fs/promises';

export async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}
