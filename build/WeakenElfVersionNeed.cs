// MSBuild inline task (compiled by RoslynCodeTaskFactory at build time).
// Marks one symbol-version requirement of an ELF64 shared library as WEAK (VER_FLG_WEAK) so the dynamic loader accepts
// the library on systems whose libstdc++ lacks that version. Used for TorchSharp's libLibTorchSharp.so, which needs
// GLIBCXX_3.4.32 for a single symbol it never calls. Does nothing where the system libstdc++ provides the version.
using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public class WeakenElfVersionNeed : Task
{
    [Required] public ITaskItem[] Files { get; set; } = Array.Empty<ITaskItem>();
    [Required] public string VersionName { get; set; } = "";

    const uint ShtGnuVerneed = 0x6ffffffe;
    const ushort VerFlgWeak = 0x2;

    static readonly string[] LibStdCxxCandidates =
    {
        "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/usr/lib/aarch64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6",
    };

    public override bool Execute()
    {
        if (SystemHasVersion())
        {
            Log.LogMessage(MessageImportance.Low, $"System libstdc++ provides {VersionName}; no patch needed.");
            return true;
        }
        foreach (var item in Files)
        {
            string path = item.GetMetadata("FullPath");
            try
            {
                string result = Patch(path);
                Log.LogMessage(MessageImportance.Normal, $"{path}: {result}");
            }
            catch (Exception e)
            {
                Log.LogError($"Could not patch {path} for {VersionName}: {e.Message}");
                return false;
            }
        }
        return !Log.HasLoggedErrors;
    }

    bool SystemHasVersion()
    {
        byte[] needle = Encoding.ASCII.GetBytes(VersionName + "\0");
        foreach (string candidate in LibStdCxxCandidates)
        {
            if (!File.Exists(candidate)) continue;
            byte[] bytes = File.ReadAllBytes(candidate);
            return IndexOf(bytes, needle) >= 0;
        }
        return false; // no libstdc++ found where we looked: patching is harmless, so do it
    }

    static int IndexOf(byte[] haystack, byte[] needle)
    {
        for (int i = 0; i + needle.Length <= haystack.Length; i++)
        {
            int j = 0;
            while (j < needle.Length && haystack[i + j] == needle[j]) j++;
            if (j == needle.Length) return i;
        }
        return -1;
    }

    string Patch(string path)
    {
        byte[] elf = File.ReadAllBytes(path);
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (elf[4] != 2 || elf[5] != 1) throw new InvalidDataException("only little-endian ELF64 is supported");

        ulong shoff = BitConverter.ToUInt64(elf, 0x28);
        int shentsize = BitConverter.ToUInt16(elf, 0x3A);
        int shnum = BitConverter.ToUInt16(elf, 0x3C);
        for (int s = 0; s < shnum; s++)
        {
            int sh = checked((int)shoff + s * shentsize);
            if (BitConverter.ToUInt32(elf, sh + 4) != ShtGnuVerneed) continue;
            long verneedOffset = (long)BitConverter.ToUInt64(elf, sh + 0x18);
            int strtabIndex = (int)BitConverter.ToUInt32(elf, sh + 0x28);
            int verneedCount = (int)BitConverter.ToUInt32(elf, sh + 0x2C);
            int strSh = checked((int)shoff + strtabIndex * shentsize);
            long strtabOffset = (long)BitConverter.ToUInt64(elf, strSh + 0x18);

            long vn = verneedOffset;
            for (int i = 0; i < verneedCount; i++)
            {
                int auxCount = BitConverter.ToUInt16(elf, (int)vn + 2);
                long vna = vn + BitConverter.ToUInt32(elf, (int)vn + 8);
                for (int a = 0; a < auxCount; a++)
                {
                    string name = ReadCString(elf, strtabOffset + BitConverter.ToUInt32(elf, (int)vna + 8));
                    if (name == VersionName)
                    {
                        ushort flags = BitConverter.ToUInt16(elf, (int)vna + 4);
                        if ((flags & VerFlgWeak) != 0) return $"{VersionName} already weak";
                        BitConverter.GetBytes((ushort)(flags | VerFlgWeak)).CopyTo(elf, (int)vna + 4);
                        string temp = path + ".patching";
                        File.WriteAllBytes(temp, elf);
                        File.Replace(temp, path, null); // atomic rename over the original
                        return $"marked {VersionName} weak";
                    }
                    vna += BitConverter.ToUInt32(elf, (int)vna + 12);
                }
                vn += BitConverter.ToUInt32(elf, (int)vn + 12);
            }
        }
        return $"no requirement on {VersionName}";
    }

    static string ReadCString(byte[] bytes, long offset)
    {
        int end = (int)offset;
        while (end < bytes.Length && bytes[end] != 0) end++;
        return Encoding.ASCII.GetString(bytes, (int)offset, end - (int)offset);
    }
}
